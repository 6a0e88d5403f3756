import pytest
import torch

from kplink_mm.geometry import (axis_angle_to_quaternion, compose_shape, perspective_project,
                                save_shape_bases)
from kplink_mm.models.heads import KGNN3DHead
from kplink_mm.models.utils import build_keypoint_graphs

CATEGORIES = ('bottle', 'car', 'chair')   # 7, 12, 10 keypoints; chair gets no basis


pytestmark = pytest.mark.usefixtures('one_torch_thread')  # tiny tensors


def _bases(seed=0, num_components=(3, 4)):
    """Hand-made bases: a random mean shape of radius ~1 and orthonormal components."""
    gen = torch.Generator().manual_seed(seed)
    bases = {}
    for name, n, k in (('bottle', 7, num_components[0]), ('car', 12, num_components[1])):
        mean = torch.randn(n, 3, generator=gen) * 0.5
        q, _ = torch.linalg.qr(torch.randn(3 * n, k, generator=gen))
        bases[name] = dict(mean=mean.numpy(), components=q.T.reshape(k, n, 3).numpy(),
                           sigmas=torch.linspace(0.2, 0.05, k).numpy())
    return bases


def _slots(head, name):
    start, n = head.slices[name]
    return torch.arange(start, start + n)


def _targets(head, bases, names, seed=0):
    """Project known shapes (known beta) with known perspective cameras."""
    gen = torch.Generator().manual_seed(seed)
    kps, slots = [], []
    for name in names:
        b = bases[name]
        k = b['sigmas'].shape[0]
        beta = torch.randn(1, k, generator=gen) * 0.7
        W = compose_shape(b['mean'], b['sigmas'], b['components'], beta)
        axis = torch.randn(1, 3, generator=gen)
        angle = 0.3 + 0.4 * torch.rand(1, generator=gen)
        q = axis_angle_to_quaternion(axis, angle)
        radius = torch.as_tensor(b['mean']).norm(dim=-1).max()
        t = torch.cat([(torch.rand(1, 2, generator=gen) - 0.5) * 0.4,
                       radius * (4 + 2 * torch.rand(1, 1, generator=gen))], -1)
        uv, depth = perspective_project(W, torch.tensor([5.0]), q, t)
        assert (depth > 0).all()
        kps.append(uv[0])
        slots.append(_slots(head, name))
    return kps, slots


def test_outputs_mixed_categories_and_node_order():
    bases = _bases()
    head = KGNN3DHead(bases, categories=CATEGORIES, hidden_channels=32, type_channels=8)
    assert head.num_components == {'bottle': 3, 'car': 4}
    names = ['car', 'bottle', 'car']
    kps, slots = _targets(head, bases, names)
    # nodes need not be in slot order: shuffle the first car's nodes
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    kps[0], slots[0] = kps[0][perm], slots[0][perm]
    graph = build_keypoint_graphs(kps, [torch.ones(len(k)) for k in kps], slots)
    out = head(graph)
    B, N = 3, graph.num_nodes
    assert out['beta'].shape == (B, 4)
    assert (out['beta'][1, 3] == 0)   # bottle has 3 components: padded
    assert out['focal'].shape == (B,) and (out['focal'] > 0).all()
    assert out['quaternion'].shape == (B, 4)
    assert torch.allclose(out['quaternion'].norm(dim=-1), torch.ones(B))
    assert out['translation'].shape == (B, 3) and (out['translation'][:, 2] > 0).all()
    assert out['shape_3d'].shape == (N, 3) and out['reprojected'].shape == (N, 2)
    assert out['category'].tolist() == [1, 0, 1]
    # each node gets the keypoint of its own slot, projected with its graph's camera
    for b, name in enumerate(names):
        lo, hi = int(graph.ptr[b]), int(graph.ptr[b + 1])
        m = bases[name]
        k = m['sigmas'].shape[0]
        W = compose_shape(m['mean'], m['sigmas'], m['components'], out['beta'][b:b + 1, :k])
        uv, _ = perspective_project(W, out['focal'][b:b + 1], out['quaternion'][b:b + 1],
                                    out['translation'][b:b + 1])
        local = graph.slot[lo:hi] - head.slices[name][0]
        assert torch.allclose(out['shape_3d'][lo:hi], W[0, local], atol=1e-6)
        assert torch.allclose(out['reprojected'][lo:hi], uv[0, local], atol=1e-5)
    loss = head.loss(out, graph.pos)
    assert loss.ndim == 0
    loss.backward()
    assert head.beta_heads['car'].weight.grad is not None


@pytest.mark.parametrize('encoder_dtype', [torch.float16, torch.float32])
def test_camera_and_shape_stay_float32_under_autocast(encoder_dtype):
    """Under --amp the linear heads give float16 while the encoder's LayerNorm may give
    float32 (CUDA) or float16 (CPU): either way the camera, shape and projection are
    float32 and equal the float32 geometry of the head's own outputs (an H200 AMP run
    failed here with 'Index put requires the source and destination dtypes match')."""
    bases = _bases()
    head = KGNN3DHead(bases, categories=CATEGORIES, hidden_channels=32, type_channels=8)
    names = ['car', 'bottle']
    kps, slots = _targets(head, bases, names)
    graph = build_keypoint_graphs(kps, [torch.ones(len(k)) for k in kps], slots)
    encoder = head.encoder.forward
    head.encoder.forward = lambda *a: encoder(*a).to(encoder_dtype)  # CUDA's or CPU's
    with torch.autocast('cpu', dtype=torch.float16):
        out = head(graph)
        loss = head.loss(out, graph.pos)
    for key in ('beta', 'focal', 'quaternion', 'translation', 'shape_3d', 'depth',
                'reprojected'):
        assert out[key].dtype == torch.float32, key
    b = 0
    m = bases['car']
    W = compose_shape(m['mean'], m['sigmas'], m['components'], out['beta'][b:b + 1, :4])
    uv, _ = perspective_project(W, out['focal'][b:b + 1], out['quaternion'][b:b + 1],
                                out['translation'][b:b + 1])
    lo, hi = int(graph.ptr[b]), int(graph.ptr[b + 1])
    local = graph.slot[lo:hi] - head.slices['car'][0]
    assert torch.allclose(out['reprojected'][lo:hi], uv[0, local], atol=1e-5)
    assert torch.isfinite(loss)
    loss.backward()
    assert head.beta_heads['car'].weight.grad is not None


def test_priors_at_initialisation():
    bases = _bases()
    head = KGNN3DHead(bases, categories=CATEGORIES, hidden_channels=32, type_channels=8,
                      focal_init=4.0)
    kps, slots = _targets(head, bases, ['bottle', 'car'])
    out = head(build_keypoint_graphs(kps, [torch.ones(len(k)) for k in kps], slots))
    assert torch.allclose(out['focal'], torch.full((2,), 4.0), atol=0.05)
    assert torch.allclose(out['quaternion'], torch.tensor([[1.0, 0, 0, 0]] * 2), atol=0.05)
    radius = torch.stack([torch.as_tensor(bases[n]['mean']).norm(dim=-1).max()
                          for n in ('bottle', 'car')])
    assert torch.allclose(out['translation'][:, 2], 4.0 * radius, rtol=0.05)
    # the mean shape roughly spans the box at initialisation
    assert out['reprojected'].abs().max() < 2.0


def test_fits_known_projections():
    torch.manual_seed(0)
    bases = _bases()
    head = KGNN3DHead(bases, categories=CATEGORIES, hidden_channels=64, type_channels=8)
    names = ['bottle', 'car'] * 3
    kps, slots = _targets(head, bases, names, seed=3)
    graph = build_keypoint_graphs(kps, [torch.ones(len(k)) for k in kps], slots)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    losses = []
    for _ in range(300):
        loss = head.loss(head(graph), graph.pos)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    head.eval()
    with torch.no_grad():
        final = head.loss(head(graph), graph.pos).item()
    assert final < 0.1 * losses[0], (losses[0], final)


def test_beta_prior_detach_and_weights():
    bases = _bases()
    head = KGNN3DHead(bases, categories=CATEGORIES, hidden_channels=16, type_channels=4,
                      beta_prior_weight=0.5, loss_weight=2.0, detach_target=False)
    kps, slots = _targets(head, bases, ['car', 'bottle'])
    graph = build_keypoint_graphs(kps, [torch.ones(len(k)) for k in kps], slots)
    out = head(graph)
    target = graph.pos.clone().requires_grad_(True)
    weight = torch.ones(graph.num_nodes)
    weight[:3] = 0
    loss = head.loss(out, target, weight)
    err = ((out['reprojected'] - target) ** 2).sum(-1) * weight
    expected = 2.0 * err.sum() / 2 + 0.5 * (out['beta'] ** 2).sum(-1).mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert target.grad is not None          # detach_target=False reaches the 2D output
    head.detach_target = True
    target.grad = None
    head.loss(head(graph), target).backward()
    assert target.grad is None


def test_bases_from_npz_and_errors(tmp_path):
    bases = _bases()
    path = str(tmp_path / 'bases.npz')
    save_shape_bases(path, bases)
    head = KGNN3DHead(path, categories=CATEGORIES, hidden_channels=16, type_channels=4,
                      num_components=2)
    assert head.num_components == {'bottle': 2, 'car': 2}
    # a category without a basis
    start, n = head.slices['chair']
    graph = build_keypoint_graphs([torch.zeros(n, 2)], [torch.ones(n)],
                                  [torch.arange(start, start + n)])
    with pytest.raises(KeyError, match='chair'):
        head(graph)
    # a basis whose keypoint count does not match the category
    bad = dict(bases)
    bad['bottle'] = bases['car']
    with pytest.raises(ValueError, match='bottle'):
        KGNN3DHead(bad, categories=CATEGORIES)

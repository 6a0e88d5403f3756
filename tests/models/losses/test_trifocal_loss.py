import numpy as np
import pytest
import torch

from kplink_mm.geometry.camera import intrinsics, look_at, project_points, projection_matrix
from kplink_mm.models.losses import TrifocalLoss


def _views(num_points=6, seed=0):
    """Three calibrated cameras around the origin and the images of random points."""
    rng = np.random.default_rng(seed)
    K = intrinsics(500.0, 320.0, 240.0)
    cams = []
    for eye in ((6.0, 0.5, 2.0), (1.0, 6.0, 2.5), (-4.0, 4.0, 1.5)):
        R, t = look_at(eye, (0.0, 0.0, 0.5))
        cams.append((R, t))
    X = rng.uniform(-1.0, 1.0, (num_points, 3)) + np.array([0.0, 0.0, 0.5])
    xs = [project_points(X, K, R, t)[0] for R, t in cams]
    Ps = [projection_matrix(K, R, t) for R, t in cams]

    def t64(a):
        return torch.as_tensor(np.asarray(a), dtype=torch.float64)

    x1, x2, x3 = (t64(x) for x in xs)
    P1, P2, P3 = (t64(np.repeat(P[None], num_points, 0)) for P in Ps)
    return x1, x2, x3, P1, P2, P3


def test_zero_at_true_correspondence_positive_off_it():
    x1, x2, x3, P1, P2, P3 = _views()
    loss = TrifocalLoss()
    assert loss(x1, x2, x3, P1, P2, P3).item() < 1e-9
    per_point = TrifocalLoss(reduction='none')(x1, x2, x3, P1, P2, P3)
    assert per_point.shape == (6,) and (per_point < 1e-9).all()
    off = x1 + torch.tensor([5.0, -3.0], dtype=torch.float64)
    assert (TrifocalLoss(reduction='none')(off, x2, x3, P1, P2, P3) > 1e-4).all()
    # further off costs more
    far = x1 + torch.tensor([20.0, -12.0], dtype=torch.float64)
    assert loss(far, x2, x3, P1, P2, P3) > loss(off, x2, x3, P1, P2, P3)
    # single (3, 4) cameras broadcast
    assert loss(off, x2, x3, P1[0], P2[0], P3[0]).item() == pytest.approx(
        loss(off, x2, x3, P1, P2, P3).item())


def test_gradient_moves_prediction_towards_transfer():
    x1, x2, x3, P1, P2, P3 = _views(seed=1)
    pred = (x1 + torch.tensor([8.0, 6.0], dtype=torch.float64)).requires_grad_(True)
    loss_fn = TrifocalLoss(reduction='sum')
    opt = torch.optim.Adam([pred], lr=0.5)
    start = (pred - x1).norm(dim=-1).mean().item()
    for _ in range(100):
        opt.zero_grad()
        loss_fn(pred, x2, x3, P1, P2, P3).backward()
        opt.step()
    assert (pred - x1).norm(dim=-1).mean().item() < 0.2 * start


def test_mask_weight_reduction_and_loss_weight():
    x1, x2, x3, P1, P2, P3 = _views(seed=2)
    pred = x1.clone()
    pred[:3] += torch.tensor([10.0, 4.0], dtype=torch.float64)   # first 3 wrong
    per_point = TrifocalLoss(reduction='none')(pred, x2, x3, P1, P2, P3)
    mask = torch.tensor([False, False, False, True, True, True])
    # masking out the wrong points leaves the exact ones: zero
    assert TrifocalLoss()(pred, x2, x3, P1, P2, P3, mask=mask).item() < 1e-9
    # mean over kept points only
    keep = ~mask
    assert TrifocalLoss()(pred, x2, x3, P1, P2, P3, mask=keep).item() == pytest.approx(
        per_point[:3].mean().item())
    masked = TrifocalLoss(reduction='none')(pred, x2, x3, P1, P2, P3, mask=mask)
    assert (masked[:3] == 0).all()
    w = torch.tensor([1.0, 2.0, 0.0, 1.0, 1.0, 1.0], dtype=torch.float64)
    loss = TrifocalLoss(loss_weight=3.0)(pred, x2, x3, P1, P2, P3, weight=w)
    expected = 3.0 * (per_point * w).sum() / w.sum()
    assert loss.item() == pytest.approx(expected.item())
    total = TrifocalLoss(reduction='mean')(pred, x2, x3, P1, P2, P3, reduction_override='sum')
    assert total.item() == pytest.approx(per_point.sum().item())
    # nothing to supervise: a zero that keeps the graph
    empty = torch.zeros(0, 2, dtype=torch.float64, requires_grad=True)
    zero = TrifocalLoss()(empty, x2[:0], x3[:0], P1[:0], P2[:0], P3[:0])
    assert zero.item() == 0 and zero.requires_grad


def test_registered():
    from mmpose.registry import MODELS
    loss = MODELS.build(dict(type='TrifocalLoss', loss_weight=0.5, reduction='sum'))
    assert isinstance(loss, TrifocalLoss) and loss.loss_weight == 0.5

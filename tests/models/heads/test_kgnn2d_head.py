import math

import pytest
import torch

from kplink_mm.models.heads import KGNN2DHead
from kplink_mm.models.utils import build_keypoint_graphs, edge_visibility_labels

CATEGORIES = ('bottle', 'car', 'chair')   # 7, 12, 10 keypoints


pytestmark = pytest.mark.usefixtures('one_torch_thread')  # tiny tensors


def _problem(head, num, gen, templates, occlusion=0.3):
    """Instances of per-category layouts (similarity transform of a template); some
    keypoints are "occluded": displaced and with low confidence."""
    names = list(head.slices)
    kps, scores, slots, truth, visible = [], [], [], [], []
    for _ in range(num):
        name = names[int(torch.randint(len(names), (1,), generator=gen))]
        start, n = head.slices[name]
        s = 0.8 + 0.3 * torch.rand(1, generator=gen)
        a = (torch.rand(1, generator=gen) - 0.5) * 0.8
        rot = torch.tensor([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        t = (torch.rand(2, generator=gen) - 0.5) * 0.3
        true = s * templates[name] @ rot.T + t + 0.01 * torch.randn(n, 2, generator=gen)
        vis = torch.rand(n, generator=gen) > occlusion
        vis[torch.randperm(n, generator=gen)[:2]] = True     # >= 2 visible keypoints
        obs = torch.where(vis[:, None], true,
                          true + 0.25 * torch.randn(n, 2, generator=gen))
        conf = torch.where(vis, 0.45 + 0.55 * torch.rand(n, generator=gen),
                           0.5 * torch.rand(n, generator=gen))
        kps.append(obs)
        scores.append(conf)
        slots.append(torch.arange(start, start + n))
        truth.append(true)
        visible.append(vis)
    graph = build_keypoint_graphs(kps, scores, slots)
    return graph, torch.cat(truth), torch.cat(visible)


def _templates(head, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {name: (torch.rand(n, 2, generator=gen) - 0.5) * 1.2
            for name, (_, n) in head.slices.items()}


def test_shapes_mixed_categories():
    head = KGNN2DHead(hidden_channels=32, type_channels=8)   # all categories (97 slots)
    assert head.num_slots == 97
    gen = torch.Generator().manual_seed(0)
    graph, truth, visible = _problem(head, 5, gen, _templates(head))
    out = head(graph)
    num_edges = int((graph.num_keypoints * (graph.num_keypoints - 1)).sum())
    assert out['edge_logits'].shape == (num_edges, 2)
    assert out['edge_prob'].shape == (num_edges, 2)
    assert torch.allclose(out['edge_prob'].sum(-1), torch.ones(num_edges))
    assert out['node_visibility'].shape == (graph.num_nodes,)
    assert ((out['node_visibility'] >= 0) & (out['node_visibility'] <= 1)).all()
    assert out['node_visible'].dtype == torch.bool
    assert out['refined'].shape == (graph.num_nodes, 2)
    losses = head.loss(out, visible, truth, ~visible)
    assert set(losses) == {'loss_edge', 'loss_location'}
    sum(losses.values()).backward()
    assert head.encoder.fc_out.weight.grad is not None
    # empty location mask: zero that still depends on the prediction
    zero = head.loss_direct(head(graph), truth, torch.zeros_like(visible))
    assert zero.item() == 0 and zero.requires_grad


def test_zero_initialised_decoder_is_identity_and_residual():
    head = KGNN2DHead(categories=CATEGORIES, hidden_channels=32, type_channels=8)
    graph, _, _ = _problem(head, 4, torch.Generator().manual_seed(1), _templates(head))
    out = head(graph)
    assert torch.equal(out['refined'], graph.pos)
    # a trained (non-zero) last layer: refined is still pos + delta, and moving an
    # input node's position moves its refined position by the same amount plus the
    # change of delta (the residual path has unit gradient)
    torch.nn.init.normal_(head.decoder.node_mlp[-1].weight, std=0.1)
    head.eval()
    out = head(graph)
    assert torch.allclose(out['refined'], graph.pos + out['delta'])
    pos = graph.pos.clone().requires_grad_(True)
    graph.pos = pos
    out = head(graph)
    jac = torch.autograd.grad(out['refined'][0, 0], pos)[0]
    delta_jac = torch.autograd.grad(head(graph)['delta'][0, 0], pos)[0]
    assert torch.allclose(jac[0, 0] - delta_jac[0, 0], torch.tensor(1.0))


def test_eval_is_deterministic_and_train_is_not():
    head = KGNN2DHead(categories=CATEGORIES, hidden_channels=32, type_channels=8,
                      dropout=0.5)
    torch.nn.init.normal_(head.decoder.node_mlp[-1].weight, std=0.1)
    graph, _, _ = _problem(head, 6, torch.Generator().manual_seed(2), _templates(head))
    head.train()
    a, b = head(graph), head(graph)
    assert not torch.equal(a['edge_logits'], b['edge_logits'])
    head.eval()
    a, b = head(graph), head(graph)
    for key in ('edge_logits', 'refined', 'node_visibility'):
        assert torch.equal(a[key], b[key])


def test_decoder_edges_labelled_uses_labels_in_training_only():
    head = KGNN2DHead(categories=CATEGORIES, hidden_channels=32, type_channels=8,
                      decoder_edges='labelled', dropout=0.0)
    torch.nn.init.normal_(head.decoder.node_mlp[-1].weight, std=0.1)
    graph, _, visible = _problem(head, 3, torch.Generator().manual_seed(3), _templates(head))
    with pytest.raises(ValueError, match='labelled'):
        head(graph)
    out = head(graph, node_visible=visible)
    # same as feeding the one-hot labels to the decoder by hand
    labels = edge_visibility_labels(visible, graph.edge_index)
    ref, _ = head.decoder(graph.pos, graph.score, graph.slot, graph.edge_index,
                          torch.nn.functional.one_hot(labels, 2).float())
    assert torch.allclose(out['refined'], ref)
    head.eval()
    pred = head(graph)   # no labels needed at inference
    ref, _ = head.decoder(graph.pos, graph.score, graph.slot, graph.edge_index,
                          pred['edge_prob'])
    assert torch.allclose(pred['refined'], ref)


def test_edge_class_weights():
    head = KGNN2DHead(categories=CATEGORIES, hidden_channels=16, type_channels=4,
                      edge_class_weight='balanced', edge_loss_weight=2.0)
    graph, _, visible = _problem(head, 3, torch.Generator().manual_seed(4), _templates(head))
    out = head(graph)
    labels = edge_visibility_labels(visible, graph.edge_index)
    counts = torch.bincount(labels, minlength=2).float()
    w = labels.numel() / (2 * counts)
    expected = 2.0 * torch.nn.functional.cross_entropy(out['edge_logits'], labels, weight=w)
    assert torch.allclose(head.loss_edges(out, visible), expected)
    # invalid nodes drop their edges
    valid = torch.ones_like(visible)
    valid[0] = False
    keep = edge_visibility_labels(valid, graph.edge_index).bool()
    assert int(keep.sum()) < labels.numel()
    head.loss_edges(out, visible, valid).backward()


def test_training_learns_edges_and_moves_occluded_keypoints():
    torch.manual_seed(0)
    head = KGNN2DHead(categories=CATEGORIES, hidden_channels=64, type_channels=16,
                      dropout=0.1, location_loss='l1')
    templates = _templates(head)
    gen = torch.Generator().manual_seed(10)
    val_graph, val_truth, val_visible = _problem(head, 256, torch.Generator().manual_seed(99),
                                                 templates)
    occluded = ~val_visible

    def evaluate():
        head.eval()
        with torch.no_grad():
            out = head(val_graph)
        labels = edge_visibility_labels(val_visible, val_graph.edge_index)
        acc = (out['edge_logits'].argmax(-1) == labels).float().mean().item()
        err = (out['refined'] - val_truth)[occluded].norm(dim=-1).mean().item()
        node_acc = (out['node_visible'] == val_visible).float().mean().item()
        head.train()
        return acc, err, node_acc

    initial_err = (val_graph.pos - val_truth)[occluded].norm(dim=-1).mean().item()
    _, err0, _ = evaluate()
    assert err0 == pytest.approx(initial_err)   # zero-initialised decoder
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(250):
        graph, truth, visible = _problem(head, 32, gen, templates)
        out = head(graph)
        losses = head.loss(out, visible, truth, ~visible)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    acc, err, node_acc = evaluate()
    assert acc > 0.9
    assert node_acc > 0.9
    assert err < 0.6 * initial_err, (err, initial_err)


def _appearance_problem(head, num, gen, templates):
    """Occluded keypoints sit at their true places with uninformative confidences:
    only the per-node appearance (first channel +1 occluded / -1 visible) tells."""
    graph, truth, visible = _problem(head, num, gen, templates)
    graph.pos = truth.clone()
    graph.score = torch.full_like(graph.score, 0.5)
    app = 0.3 * torch.randn(graph.num_nodes, 8, generator=gen)
    app[:, 0] += torch.where(visible, -1.0, 1.0)
    graph.appearance = app
    return graph, truth, visible


@pytest.mark.parametrize('appearance_channels', [0, 8])
def test_appearance_input_lets_the_encoder_see_what_the_pose_cannot(appearance_channels):
    torch.manual_seed(0)
    head = KGNN2DHead(categories=CATEGORIES, hidden_channels=64, type_channels=16,
                      edge_class_weight='balanced', appearance_channels=appearance_channels,
                      appearance_proj=8)
    templates = _templates(head)
    gen = torch.Generator().manual_seed(3)
    opt = torch.optim.Adam(head.parameters(), lr=3e-3)
    for _ in range(120):
        graph, truth, visible = _appearance_problem(head, 32, gen, templates)
        loss = head.loss_edges(head(graph), visible)
        opt.zero_grad()
        loss.backward()
        opt.step()
    head.eval()
    graph, _, visible = _appearance_problem(head, 256, torch.Generator().manual_seed(9),
                                            templates)
    with torch.no_grad():
        node_acc = (head(graph)['node_visible'] == visible).float().mean().item()
    if appearance_channels:
        assert node_acc > 0.9
    else:   # positions and confidences carry no occlusion signal here
        assert node_acc < 0.8


def test_appearance_head_without_appearance_field_is_named():
    head = KGNN2DHead(categories=CATEGORIES, hidden_channels=16, type_channels=4,
                      appearance_channels=8)
    graph, _, _ = _problem(head, 2, torch.Generator().manual_seed(0), _templates(head))
    with pytest.raises(ValueError, match='appearance'):
        head(graph)
    graph.appearance = torch.zeros(graph.num_nodes, 5)
    with pytest.raises(ValueError, match=r'appearance_channels=8.*got \('):
        head(graph)

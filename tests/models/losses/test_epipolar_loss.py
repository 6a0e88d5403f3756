import numpy as np
import pytest
import torch

from kplink_mm.geometry.camera import intrinsics, look_at, project_points, projection_matrix
from kplink_mm.models.losses import EpipolarLoss


def _views(num_points=6, seed=0):
    rng = np.random.default_rng(seed)
    K = intrinsics(500.0, 320.0, 240.0)
    X = rng.uniform(-1.0, 1.0, (num_points, 3))
    out = []
    for eye in ((6.0, 0.5, 2.0), (1.0, 6.0, 2.5)):
        R, t = look_at(eye, (0.0, 0.0, 0.0))
        out.append((torch.as_tensor(project_points(X, K, R, t)[0]),
                    torch.as_tensor(projection_matrix(K, R, t))))
    (x1, P1), (x2, P2) = out
    return x1, x2, P1, P2


def test_zero_at_the_true_point_and_weighted_mean_off_it():
    x1, x2, P1, P2 = _views()
    assert EpipolarLoss()(x1, x2, P1, P2).item() < 1e-10
    off = x1 + torch.tensor([6.0, -4.0], dtype=torch.float64)
    per_point = EpipolarLoss(reduction='none')(off, x2, P1, P2)
    assert per_point.shape == (6,) and (per_point > 0).all()
    mask = torch.tensor([True, False, True, True, False, True])
    loss = EpipolarLoss(loss_weight=2.0)(off, x2, P1, P2, mask=mask)
    assert loss.item() == pytest.approx(2.0 * per_point[mask].mean().item())
    # units: pixels / focal (500 px) unless normalize=False
    px = EpipolarLoss(reduction='none', normalize=False)(off, x2, P1, P2)
    np.testing.assert_allclose(px.numpy(), 500.0 * per_point.numpy(), rtol=1e-6)


def test_training_pulls_points_onto_their_lines_and_empty_input():
    x1, x2, P1, P2 = _views(seed=1)
    pred = (x1 + torch.tensor([8.0, 6.0], dtype=torch.float64)).requires_grad_(True)
    loss_fn = EpipolarLoss(reduction='sum', normalize=False)
    start = loss_fn(pred, x2, P1, P2).item()
    opt = torch.optim.Adam([pred], lr=0.5)
    for _ in range(100):
        opt.zero_grad()
        loss_fn(pred, x2, P1, P2).backward()
        opt.step()
    assert loss_fn(pred, x2, P1, P2).item() < 0.1 * start
    empty = torch.zeros(0, 2, requires_grad=True)
    assert EpipolarLoss()(empty, empty, P1[:0], P2[:0]).item() == 0.0
    with pytest.raises(ValueError, match='reduction'):
        EpipolarLoss(reduction='max')

import numpy as np
import pytest
import torch

from kplink_mm.geometry.camera import intrinsics, look_at, project_points
from kplink_mm.geometry.perspective import perspective_project
from kplink_mm.geometry.quaternion import matrix_to_quaternion, quaternion_to_matrix

F64 = torch.float64


def test_optical_axis_projects_to_principal_point():
    q = torch.tensor([[0.3, -0.5, 0.2, 0.7]], dtype=F64)
    t = torch.tensor([[0.4, -1.0, 6.0]], dtype=F64)
    R = quaternion_to_matrix(q)[0]
    # object-frame points whose camera-frame x, y are 0: X = R^T ((0, 0, z) - t)
    z = torch.tensor([1.0, 3.0, 10.0], dtype=F64)
    Xc = torch.stack([torch.zeros(3, dtype=F64), torch.zeros(3, dtype=F64), z], -1)
    X = ((Xc - t) @ R)[None]
    uv, depth = perspective_project(X, torch.tensor([500.0], dtype=F64), q, t,
                                    principal_point=torch.tensor([[320.0, 240.0]], dtype=F64))
    torch.testing.assert_close(uv[0], torch.tensor([[320.0, 240.0]] * 3, dtype=F64))
    torch.testing.assert_close(depth[0], z)
    # without a principal point the axis lands on the origin (the paper's convention)
    uv0, _ = perspective_project(X, torch.tensor([500.0], dtype=F64), q, t)
    torch.testing.assert_close(uv0, torch.zeros_like(uv0), atol=1e-12, rtol=0)


def test_known_point_hand_computed():
    # identity rotation, f = 2, t = (0, 0, 4): X = (1, -2, 0) -> X_c = (1, -2, 4)
    # u = 2 * 1 / 4 = 0.5, v = 2 * (-2) / 4 = -1; X = (0.5, 1, 4) -> (0.125, 0.25) depth 8
    X = torch.tensor([[[1.0, -2.0, 0.0], [0.5, 1.0, 4.0]]], dtype=F64)
    q = torch.tensor([[1.0, 0.0, 0.0, 0.0]], dtype=F64)
    t = torch.tensor([[0.0, 0.0, 4.0]], dtype=F64)
    for focal in (torch.tensor([2.0], dtype=F64), torch.tensor([[2.0]], dtype=F64)):
        uv, depth = perspective_project(X, focal, q, t)
        torch.testing.assert_close(uv, torch.tensor([[[0.5, -1.0], [0.125, 0.25]]], dtype=F64))
        torch.testing.assert_close(depth, torch.tensor([[4.0, 8.0]], dtype=F64))
    # (fx, fy) = (2, 3)
    uv, _ = perspective_project(X, torch.tensor([[2.0, 3.0]], dtype=F64), q, t)
    torch.testing.assert_close(uv, torch.tensor([[[0.5, -1.5], [0.125, 0.375]]], dtype=F64))


def test_matches_camera_project_points_for_random_cameras():
    rng = np.random.default_rng(0)
    B, N = 6, 15
    X = rng.normal(size=(B, N, 3))
    focal, pp, quats, trans, expected = [], [], [], [], []
    for b in range(B):
        eye = rng.normal(size=3) * 3 + np.array([0.0, 0.0, 8.0])
        R, t = look_at(eye, rng.normal(size=3) * 0.3)
        f, cx, cy = rng.uniform(200, 900), rng.uniform(100, 400), rng.uniform(100, 300)
        expected.append(project_points(X[b], intrinsics(f, cx, cy), R, t)[0])
        q = matrix_to_quaternion(torch.as_tensor(R))
        # an unnormalised quaternion of the same rotation must not matter
        quats.append(q * rng.uniform(0.5, 3.0))
        focal.append(f)
        pp.append((cx, cy))
        trans.append(t)
    uv, depth = perspective_project(torch.as_tensor(X), torch.as_tensor(np.array(focal)),
                                    torch.stack(quats), torch.as_tensor(np.array(trans)),
                                    principal_point=torch.as_tensor(np.array(pp)))
    assert (depth > 0).all()
    np.testing.assert_allclose(uv.numpy(), np.stack(expected), rtol=0, atol=1e-8)


def test_gradients_and_behind_camera_safety():
    X = torch.randn(2, 5, 3, dtype=F64, generator=torch.Generator().manual_seed(1))
    f = torch.tensor([300.0, 400.0], dtype=F64, requires_grad=True)
    q = torch.tensor([[1.0, 0.1, 0.0, 0.0], [0.9, 0.0, 0.2, 0.1]], dtype=F64,
                     requires_grad=True)
    t = torch.tensor([[0.0, 0.0, 6.0], [0.1, 0.2, -6.0]], dtype=F64, requires_grad=True)
    uv, depth = perspective_project(X, f, q, t)
    assert (depth[1] < 0).all()               # second camera sees everything from behind
    assert torch.isfinite(uv).all()
    uv.sum().backward()
    for p in (f, q, t):
        assert torch.isfinite(p.grad).all()
    assert q.grad[0].abs().sum() > 0 and t.grad[0].abs().sum() > 0
    # analytic check of the well-posed camera
    assert torch.autograd.gradcheck(
        lambda X_, f_, q_, t_: perspective_project(X_, f_, q_, t_)[0],
        (X[:1].clone().requires_grad_(), f[:1].detach().clone().requires_grad_(),
         q[:1].detach().clone().requires_grad_(), t[:1].detach().clone().requires_grad_()))


def test_bad_focal_shape_raises():
    with pytest.raises(ValueError, match='focal'):
        perspective_project(torch.zeros(2, 3, 3), torch.ones(2, 3), torch.ones(2, 4),
                            torch.ones(2, 3))

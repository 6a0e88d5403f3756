"""Epipolar geometry against closed-form cases: synthetic look-at cameras."""
import numpy as np
import pytest
import torch

from kplink_mm.geometry.camera import (camera_center, intrinsics, look_at, project_points,
                                       projection_matrix)
from kplink_mm.geometry.epipolar import (camera_center_homogeneous, epipolar_distance,
                                         epipolar_line, fundamental_matrix)


def _two_views(num_points=30, seed=0, f1=800.0, f2=600.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(num_points, 3))
    cams = []
    for eye, f, (cx, cy) in (((8.0, 1.0, 3.0), f1, (320.0, 240.0)),
                             ((1.0, 9.0, 4.0), f2, (330.0, 250.0))):
        K = intrinsics(f, cx, cy)
        R, t = look_at(eye, (0.0, 0.0, 0.0))
        cams.append((K, R, t))
    uv = [project_points(X, K, R, t)[0] for K, R, t in cams]
    Ps = [projection_matrix(K, R, t) for K, R, t in cams]
    return X, cams, Ps, uv


def test_camera_center_is_the_null_vector_and_matches_r_t():
    _, cams, Ps, _ = _two_views()
    for (K, R, t), P in zip(cams, Ps):
        C = camera_center_homogeneous(P).numpy()
        np.testing.assert_allclose(P @ C, 0.0, atol=1e-9)
        np.testing.assert_allclose(C[:3], camera_center(R, t), atol=1e-9)


def test_true_correspondences_satisfy_the_epipolar_constraint():
    _, _, (P1, P2), (x1, x2) = _two_views()
    F = fundamental_matrix(P1, P2).numpy()
    assert np.linalg.matrix_rank(F, tol=1e-8 * np.abs(F).max()) == 2
    h1 = np.c_[x1, np.ones(len(x1))]
    h2 = np.c_[x2, np.ones(len(x2))]
    algebraic = np.abs(np.einsum('ni,ij,nj->n', h2, F, h1))
    scale = np.linalg.norm(F) * np.linalg.norm(h1, axis=1) * np.linalg.norm(h2, axis=1)
    assert (algebraic / scale).max() < 1e-12
    for normalize in (False, True):
        d = epipolar_distance(x1, x2, P1, P2, normalize=normalize)
        assert d.shape == (30,) and d.max().item() < 1e-8


def test_distance_is_zero_along_the_line_and_the_offset_across_it():
    _, _, (P1, P2), (x1, x2) = _two_views(seed=1)
    line = epipolar_line(fundamental_matrix(P1, P2), x2).numpy()
    normal = line[:, :2] / np.linalg.norm(line[:, :2], axis=1, keepdims=True)
    along = np.stack([-normal[:, 1], normal[:, 0]], 1)
    np.testing.assert_allclose(
        epipolar_distance(x1 + 25.0 * along, x2, P1, P2, normalize=False).numpy(), 0.0,
        atol=1e-7)
    np.testing.assert_allclose(
        epipolar_distance(x1 + 7.0 * normal, x2, P1, P2, normalize=False).numpy(), 7.0,
        rtol=1e-9)
    # normalised: view 1's pixels / its focal length (800 px)
    np.testing.assert_allclose(
        epipolar_distance(x1 + 7.0 * normal, x2, P1, P2).numpy(), 7.0 / 800.0, rtol=1e-9)


def test_distance_does_not_depend_on_the_cameras_scale():
    _, _, (P1, P2), (x1, x2) = _two_views(seed=2)
    off = x1 + 3.0
    for normalize in (False, True):
        a = epipolar_distance(off, x2, P1, P2, normalize=normalize)
        b = epipolar_distance(off, x2, 3.7 * P1, -0.2 * P2, normalize=normalize)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-8)


def test_gradient_is_perpendicular_to_the_line_and_reductions():
    _, _, (P1, P2), (x1, x2) = _two_views(seed=3, num_points=5)
    pred = torch.as_tensor(x1 + np.array([4.0, -6.0])).requires_grad_(True)
    epipolar_distance(pred, x2, P1, P2, reduction='sum').backward()
    line = epipolar_line(fundamental_matrix(P1, P2), x2).numpy()
    normal = line[:, :2] / np.linalg.norm(line[:, :2], axis=1, keepdims=True)
    g = pred.grad.numpy()
    np.testing.assert_allclose(np.abs((g * normal).sum(1)), np.linalg.norm(g, axis=1),
                               rtol=1e-9)
    d = epipolar_distance(pred.detach(), x2, P1, P2)
    assert epipolar_distance(pred.detach(), x2, P1, P2, reduction='mean').item() == \
        pytest.approx(d.mean().item())
    with pytest.raises(ValueError, match='reduction'):
        epipolar_distance(x1, x2, P1, P2, reduction='max')
    with pytest.raises(ValueError, match=r'\(\.\.\., 3, 4\)'):
        camera_center_homogeneous(np.eye(3))

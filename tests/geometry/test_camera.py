import numpy as np
import pytest

from kplink_mm.geometry.camera import (backproject, camera_center, horizon_mask, intrinsics,
                                       look_at, project_points, projection_matrix, rotation_z,
                                       transform_points)


def test_intrinsics_layout():
    K = intrinsics(500.0, 320.0, 240.0)
    np.testing.assert_allclose(K, [[500, 0, 320], [0, 500, 240], [0, 0, 1]])
    K2 = intrinsics((400.0, 450.0), 10.0, 20.0)
    assert K2[0, 0] == 400 and K2[1, 1] == 450


def test_point_on_optical_axis_projects_to_principal_point():
    K = intrinsics(300.0, 131.5, 120.25)
    R, t = look_at(eye=(10.0, -3.0, 4.0), target=(1.0, 2.0, 0.5))
    axis = R[2]                                         # viewing direction in world
    X = np.array([10.0, -3.0, 4.0]) + 7.0 * axis
    uv, z = project_points(X[None], K, R, t)
    np.testing.assert_allclose(uv[0], [131.5, 120.25], atol=1e-9)
    np.testing.assert_allclose(z[0], 7.0, atol=1e-9)


def test_known_point_hand_computed():
    # camera at the origin looking along world +x, z up: x_cam = -Y, y_cam = -Z, z_cam = X
    R, t = look_at((0.0, 0.0, 0.0), (1.0, 0.0, 0.0))
    np.testing.assert_allclose(R, [[0, -1, 0], [0, 0, -1], [1, 0, 0]], atol=1e-12)
    np.testing.assert_allclose(t, 0, atol=1e-12)
    K = intrinsics(100.0, 50.0, 40.0)
    # world (4, -1, 2): cam (1, -2, 4) -> u = 100*1/4 + 50 = 75, v = 100*(-2)/4 + 40 = -10
    uv, z = project_points([[4.0, -1.0, 2.0]], K, R, t)
    np.testing.assert_allclose(uv, [[75.0, -10.0]])
    np.testing.assert_allclose(z, [4.0])


def test_look_at_properties():
    eye, target = np.array([3.0, 4.0, 2.0]), np.array([-1.0, 0.5, 0.2])
    R, t = look_at(eye, target)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(R), 1.0)
    np.testing.assert_allclose(camera_center(R, t), eye, atol=1e-12)
    # the target is on the optical axis in front of the camera
    xc = transform_points(target[None], R, t)[0]
    np.testing.assert_allclose(xc[:2], 0, atol=1e-12)
    assert xc[2] == pytest.approx(np.linalg.norm(target - eye))
    # world up projects upwards in the image (decreasing v); the camera x axis is level
    K = intrinsics(200.0, 100.0, 100.0)
    uv, _ = project_points(np.stack([target, target + [0, 0, 0.5]]), K, R, t)
    assert uv[1, 1] < uv[0, 1]
    assert abs(R[0, 2]) < 1e-12
    with pytest.raises(ValueError):
        look_at(eye, eye)
    with pytest.raises(ValueError):
        look_at((0, 0, 5), (0, 0, 0))


def test_projection_matrix_matches_project_points():
    rng = np.random.default_rng(0)
    K = intrinsics((310.0, 305.0), 128.0, 120.0)
    R, t = look_at((6.0, -5.0, 3.0), (0.0, 0.0, 0.5))
    X = rng.uniform(-2, 2, (50, 3))
    P = projection_matrix(K, R, t)
    assert P.shape == (3, 4)
    h = np.hstack([X, np.ones((50, 1))]) @ P.T
    uv, z = project_points(X, K, R, t)
    np.testing.assert_allclose(h[:, :2] / h[:, 2:], uv, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(h[:, 2], z, rtol=1e-10)
    np.testing.assert_allclose(backproject(uv, z, K, R, t), X, atol=1e-9)


def test_rotation_z():
    np.testing.assert_allclose(rotation_z(np.pi / 2) @ [1, 0, 0], [0, 1, 0], atol=1e-12)
    np.testing.assert_allclose(rotation_z(0.3) @ rotation_z(-0.3), np.eye(3), atol=1e-12)


def test_horizon_mask_splits_image():
    K = intrinsics(100.0, 50.0, 50.0)
    R, t = look_at((0.0, 0.0, 1.0), (10.0, 0.0, 1.0))      # level camera: horizon at v = 50
    m = horizon_mask(K, R, 100, 100)
    assert m[60:].all() and not m[:50].any()

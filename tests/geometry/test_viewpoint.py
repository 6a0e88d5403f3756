import numpy as np
import pytest

from kplink_mm.geometry import (facing_camera, fit_scale_translation, orthographic_project,
                                viewing_sphere_rotations)


def test_grid_rotations_are_proper_and_look_at_the_origin():
    R = viewing_sphere_rotations(90.0, (0.0, 30.0))
    assert R.shape == (8, 3, 3)
    np.testing.assert_allclose(R @ R.transpose(0, 2, 1), np.broadcast_to(np.eye(3), R.shape),
                               atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(R), 1.0, atol=1e-12)
    # azimuth 0, elevation 0: the camera sits on +x and looks along -x; the object's
    # +y (its left) is on the image's right, +z is image up (-v).
    np.testing.assert_allclose(R[0, 2], [-1, 0, 0], atol=1e-12)
    np.testing.assert_allclose(orthographic_project([[0, 1, 0], [0, 0, 1]], R[0]),
                               [[1, 0], [0, -1]], atol=1e-12)
    # elevation 30 at azimuth 90: forward = -(0, cos30, sin30)
    np.testing.assert_allclose(R[5, 2], [0, -np.cos(np.pi / 6), -np.sin(np.pi / 6)],
                               atol=1e-12)
    with pytest.raises(ValueError, match='elevation'):
        viewing_sphere_rotations(10.0, (90.0, ))
    with pytest.raises(ValueError, match='azimuth_step'):
        viewing_sphere_rotations(0.0)


def test_orthographic_project_batches_over_rotations():
    R = viewing_sphere_rotations(45.0, (10.0, ))
    X = np.random.default_rng(0).normal(size=(5, 3))
    uv = orthographic_project(X, R)
    assert uv.shape == (8, 5, 2)
    np.testing.assert_allclose(uv[3], (X @ R[3].T)[:, :2], atol=1e-12)


def test_fit_scale_translation_closed_form():
    src = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 2.0]])
    dst = 3.0 * src + np.array([5.0, -1.0])
    s, t = fit_scale_translation(src, dst)
    assert s == pytest.approx(3.0)
    np.testing.assert_allclose(t, [5.0, -1.0])
    # weights: an outlier with zero weight changes nothing
    s2, t2 = fit_scale_translation(np.vstack([src, [[9, 9]]]), np.vstack([dst, [[0, 0]]]),
                                   [1, 1, 1, 0])
    assert s2 == pytest.approx(3.0)
    np.testing.assert_allclose(t2, [5.0, -1.0])
    # two points, hand-computed: s = <src - mean, dst - mean> / |src - mean|^2
    s3, t3 = fit_scale_translation([[0, 0], [2, 0]], [[1, 1], [2, 3]])
    assert s3 == pytest.approx(0.5)            # (-1*-0.5 + 1*0.5) / 2
    np.testing.assert_allclose(t3, [1.0, 2.0])  # dst mean (1.5, 2) - 0.5 * (1, 0)
    # no spread: s = 0, t = weighted mean
    s4, t4 = fit_scale_translation([[1, 1]], [[4, 2]])
    assert s4 == 0.0
    np.testing.assert_allclose(t4, [4, 2])
    with pytest.raises(ValueError, match='at least one point'):
        fit_scale_translation(np.zeros((0, 2)), np.zeros((0, 2)))


def test_facing_camera_signs():
    R = viewing_sphere_rotations(180.0, (0.0, ))   # cameras on +x and on -x
    normals = np.array([[1.0, 0, 0], [-1.0, 0, 0], [0, 0, 1.0]])
    np.testing.assert_allclose(facing_camera(normals, R), [[1, -1, 0], [-1, 1, 0]],
                               atol=1e-12)

import math

import numpy as np
import pytest
import torch

from kplink_mm.geometry.camera import rotation_x, rotation_y, rotation_z
from kplink_mm.geometry.quaternion import (axis_angle_to_quaternion, matrix_to_quaternion,
                                           quaternion_multiply, quaternion_to_matrix)


def _random_rotations(n, seed=0):
    q = torch.randn(n, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    return quaternion_to_matrix(q)


def test_90_degrees_about_z_is_the_known_matrix():
    c = math.cos(math.pi / 4)
    R = quaternion_to_matrix(torch.tensor([c, 0.0, 0.0, c], dtype=torch.float64))
    expected = [[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]
    torch.testing.assert_close(R, torch.tensor(expected, dtype=torch.float64), atol=1e-12,
                               rtol=0)
    # x axis goes to y: the active, right-handed convention of camera.rotation_z
    np.testing.assert_allclose(R.numpy(), rotation_z(math.pi / 2), atol=1e-12)


@pytest.mark.parametrize('axis,ref', [((1, 0, 0), rotation_x), ((0, 1, 0), rotation_y),
                                      ((0, 0, 1), rotation_z)])
def test_axis_angle_matches_camera_rotations(axis, ref):
    for angle in (-2.5, -0.3, 0.0, 0.7, 3.0):
        q = axis_angle_to_quaternion(torch.tensor(axis, dtype=torch.float64),
                                     torch.tensor(angle, dtype=torch.float64))
        assert q.norm().item() == pytest.approx(1.0)
        np.testing.assert_allclose(quaternion_to_matrix(q).numpy(), ref(angle), atol=1e-12)


def test_matrices_are_rotations():
    R = _random_rotations(100)
    eye = torch.eye(3, dtype=torch.float64).expand(100, 3, 3)
    torch.testing.assert_close(R @ R.transpose(-1, -2), eye, atol=1e-12, rtol=0)
    torch.testing.assert_close(torch.linalg.det(R), torch.ones(100, dtype=torch.float64))


def test_matrix_quaternion_round_trip():
    R = _random_rotations(500, seed=1)
    q = matrix_to_quaternion(R)
    assert (q[:, 0] >= 0).all()
    torch.testing.assert_close(q.norm(dim=-1), torch.ones(500, dtype=torch.float64))
    torch.testing.assert_close(quaternion_to_matrix(q), R, atol=1e-12, rtol=0)


def test_matrix_to_quaternion_every_branch():
    # rotations by ~pi (w ~ 0) about each axis exercise the x, y and z branches
    for axis in ((1.0, 0, 0), (0, 1.0, 0), (0, 0, 1.0), (1.0, 1.0, 0), (1.0, -2.0, 0.5)):
        for angle in (math.pi, math.pi - 1e-3, 0.0, 1e-4):
            q = axis_angle_to_quaternion(torch.tensor(axis, dtype=torch.float64),
                                         torch.tensor(angle, dtype=torch.float64))
            R = quaternion_to_matrix(q)
            q2 = matrix_to_quaternion(R)
            assert q2[0] >= 0
            # same rotation; the quaternion itself up to the sign ambiguity
            torch.testing.assert_close(quaternion_to_matrix(q2), R, atol=1e-12, rtol=0)
            assert min((q2 - q).abs().max(), (q2 + q).abs().max()) < 1e-10


def test_unnormalised_quaternion_gives_the_normalised_matrix():
    q = torch.randn(50, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    scale = torch.rand(50, 1, dtype=torch.float64) * 10 + 0.01
    torch.testing.assert_close(quaternion_to_matrix(q * scale),
                               quaternion_to_matrix(q / q.norm(dim=-1, keepdim=True)),
                               atol=1e-12, rtol=0)


def test_multiply_composes_rotations():
    g = torch.Generator().manual_seed(3)
    a = torch.randn(20, 4, dtype=torch.float64, generator=g)
    b = torch.randn(20, 4, dtype=torch.float64, generator=g)
    torch.testing.assert_close(quaternion_to_matrix(quaternion_multiply(a, b)),
                               quaternion_to_matrix(a) @ quaternion_to_matrix(b),
                               atol=1e-12, rtol=0)
    # identity is neutral
    e = torch.tensor([1.0, 0, 0, 0], dtype=torch.float64)
    torch.testing.assert_close(quaternion_multiply(e, a), a)


def test_gradients_are_finite_including_near_zero():
    q = torch.randn(10, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    q = torch.cat([q, torch.zeros(1, 4, dtype=torch.float64),
                   torch.full((1, 4), 1e-9, dtype=torch.float64)])
    q.requires_grad_(True)
    R = quaternion_to_matrix(q)
    assert torch.isfinite(R).all()
    torch.testing.assert_close(R[-2], torch.eye(3, dtype=torch.float64))  # q = 0 -> identity
    (g,) = torch.autograd.grad((R * torch.arange(9.0, dtype=torch.float64).reshape(3, 3)
                                ).sum(), q)
    assert torch.isfinite(g).all() and g[:10].abs().sum() > 0
    assert torch.autograd.gradcheck(quaternion_to_matrix, (q[:3].detach().requires_grad_(),))

    R2 = _random_rotations(8, seed=5).requires_grad_(True)
    (g2,) = torch.autograd.grad(matrix_to_quaternion(R2).sum(), R2)
    assert torch.isfinite(g2).all()


def test_float32_and_numpy_inputs():
    q32 = torch.tensor([[0.9, 0.1, -0.3, 0.2]], dtype=torch.float32)
    R32 = quaternion_to_matrix(q32)
    assert R32.dtype == torch.float32
    R64 = quaternion_to_matrix(np.array([[0.9, 0.1, -0.3, 0.2]]))
    assert R64.dtype == torch.float64
    torch.testing.assert_close(R32.double(), R64, atol=1e-6, rtol=0)

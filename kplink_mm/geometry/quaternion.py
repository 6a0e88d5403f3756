"""Unit quaternions <-> rotation matrices (torch, differentiable, batched).

Conventions:

* quaternions are stored ``(w, x, y, z)`` (scalar first) in the last dimension;
* ``quaternion_to_matrix(q) @ v`` rotates the column vector ``v`` actively (the
  same convention as :func:`kplink_mm.geometry.camera.rotation_z`);
* the Hamilton product is used, so ``R(a * b) == R(a) @ R(b)``;
* ``q`` and ``-q`` are the same rotation; :func:`matrix_to_quaternion` returns the
  representative with ``w >= 0``.

Every function accepts torch tensors or anything :func:`torch.as_tensor` accepts
(numpy arrays, lists); integer inputs are promoted to the default float dtype.
Leading batch dimensions are arbitrary; float32 and float64 are supported.
"""
from typing import Union

import numpy as np
import torch

TensorLike = Union[torch.Tensor, np.ndarray, float, list, tuple]

__all__ = ['quaternion_to_matrix', 'matrix_to_quaternion', 'quaternion_multiply',
           'axis_angle_to_quaternion']


def _as_float(x: TensorLike, like: torch.Tensor = None) -> torch.Tensor:
    """Float tensor view of ``x`` (keeps autograd); ``like`` fixes dtype/device."""
    if like is not None:
        return torch.as_tensor(x, dtype=like.dtype, device=like.device)
    t = torch.as_tensor(x)
    return t if t.is_floating_point() else t.to(torch.get_default_dtype())


def quaternion_to_matrix(q: TensorLike, eps: float = 1e-12) -> torch.Tensor:
    """Rotation matrices of quaternions ``q (..., 4)`` in ``(w, x, y, z)`` order.

    ``q`` need not be normalised: the formula divides by ``max(|q|^2, eps)`` (the
    standard ``R = I + 2/|q|^2 (...)`` form), which is exactly normalising first
    for ``|q|^2 >= eps``, is differentiable everywhere and, instead of producing
    NaNs, tends continuously to the identity as ``q -> 0``.

    Returns ``(..., 3, 3)``.
    """
    q = _as_float(q)
    if q.shape[-1] != 4:
        raise ValueError(f'quaternion_to_matrix expects (..., 4), got {tuple(q.shape)}')
    w, x, y, z = q.unbind(-1)
    two_s = 2.0 / (q * q).sum(-1).clamp(min=eps)
    m = torch.stack([
        1 - two_s * (y * y + z * z), two_s * (x * y - z * w), two_s * (x * z + y * w),
        two_s * (x * y + z * w), 1 - two_s * (x * x + z * z), two_s * (y * z - x * w),
        two_s * (x * z - y * w), two_s * (y * z + x * w), 1 - two_s * (x * x + y * y),
    ], -1)
    return m.reshape(q.shape[:-1] + (3, 3))


def matrix_to_quaternion(R: TensorLike) -> torch.Tensor:
    """Quaternions ``(..., 4)`` ``(w, x, y, z)`` with ``w >= 0`` of rotations
    ``R (..., 3, 3)``.

    Shepperd's method: each of the four components can be recovered from the
    diagonal, but dividing by a small one is unstable, so per matrix the formula
    anchored on the largest of ``|w|, |x|, |y|, |z|`` (always >= 1/2) is selected.
    For 180-degree rotations (``w == 0``) the sign is whatever that branch gives.
    """
    R = _as_float(R)
    if R.shape[-2:] != (3, 3):
        raise ValueError(f'matrix_to_quaternion expects (..., 3, 3), got {tuple(R.shape)}')
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = R.reshape(R.shape[:-2] + (9,)).unbind(-1)
    # 2|w|, 2|x|, 2|y|, 2|z| (clamped: rounding can push 1 + trace-like terms below 0)
    q_abs = torch.sqrt(torch.clamp(torch.stack([
        1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
        1 - m00 + m11 - m22, 1 - m00 - m11 + m22], -1), min=0.0))
    # row r: the quaternion scaled by 2 * q_abs[r] (i.e. anchored on component r)
    cand = torch.stack([
        torch.stack([q_abs[..., 0] ** 2, m21 - m12, m02 - m20, m10 - m01], -1),
        torch.stack([m21 - m12, q_abs[..., 1] ** 2, m10 + m01, m02 + m20], -1),
        torch.stack([m02 - m20, m10 + m01, q_abs[..., 2] ** 2, m12 + m21], -1),
        torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3] ** 2], -1),
    ], -2)
    # the unselected rows may divide by ~0; the floor keeps them (and their
    # gradients) finite, the selected row always has q_abs >= 1
    cand = cand / (2.0 * q_abs[..., None].clamp(min=0.1))
    best = q_abs.argmax(-1)
    idx = best[..., None, None].expand(best.shape + (1, 4))
    q = torch.gather(cand, -2, idx).squeeze(-2)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_multiply(a: TensorLike, b: TensorLike) -> torch.Tensor:
    """Hamilton product ``a * b`` of ``(..., 4)`` quaternions (broadcast), so that
    ``quaternion_to_matrix(a * b) == quaternion_to_matrix(a) @ quaternion_to_matrix(b)``
    (apply ``b`` first). Not normalised."""
    a = _as_float(a)
    b = _as_float(b, like=a) if not torch.is_tensor(b) else b
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack([
        aw * bw - ax * bx - ay * by - az * bz,
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
    ], -1)


def axis_angle_to_quaternion(axis: TensorLike, angle: TensorLike, eps: float = 1e-12
                             ) -> torch.Tensor:
    """Quaternion ``(..., 4)`` of a right-handed rotation by ``angle`` radians
    (shape ``(...)``, broadcast against ``axis.shape[:-1]``) about ``axis (..., 3)``.

    The axis is normalised, so the result is a unit quaternion; ``eps`` guards a
    zero axis, which yields ``(cos(angle/2), 0, 0, 0)``, i.e. the identity rotation."""
    axis = _as_float(axis)
    angle = _as_float(angle, like=axis) if not torch.is_tensor(angle) else angle
    n = torch.sqrt((axis * axis).sum(-1, keepdim=True) + eps)
    half = 0.5 * angle[..., None]
    return torch.cat([torch.cos(half) * torch.ones_like(n), torch.sin(half) * axis / n], -1)

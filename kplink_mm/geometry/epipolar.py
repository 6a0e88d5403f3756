"""Two-view (epipolar) geometry of calibrated cameras, in the conventions of
:mod:`kplink_mm.geometry.trifocal`.

A point ``x1`` in view 1 and the image ``x2`` of the same 3D point in view 2 satisfy
``x2^T F x1 = 0`` (Hartley & Zisserman, ch. 9): ``x1`` lies on the epipolar line
``l1 = F^T x2``. Occlusion-Net's trifocal loss needs the keypoint visible in two
other views; when it is visible in only one, this line still constrains the
occluded keypoint in one direction (:func:`epipolar_distance`).
"""
from typing import Optional, Sequence

import torch

from .quaternion import TensorLike
from .trifocal import (_apply, _floats, _homogeneous, _reduce, _safe_norm,
                       normalizing_transform, skew)

__all__ = ['camera_center_homogeneous', 'fundamental_matrix', 'epipolar_line',
           'epipolar_distance']


def camera_center_homogeneous(P: TensorLike) -> torch.Tensor:
    """Centre ``C (..., 4)`` of finite cameras ``P = [M | p4] (..., 3, 4)``:
    ``P C = 0`` with ``C = (-M^-1 p4, 1)``."""
    P, = _floats(P)
    if P.shape[-2:] != (3, 4):
        raise ValueError(f'camera_center_homogeneous: P must be (..., 3, 4), got '
                         f'{tuple(P.shape)}')
    c = -torch.linalg.solve(P[..., :3], P[..., 3:])[..., 0]
    return torch.cat([c, torch.ones_like(c[..., :1])], -1)


def fundamental_matrix(P1: TensorLike, P2: TensorLike) -> torch.Tensor:
    """``F (..., 3, 3)`` with ``x2^T F x1 = 0`` for cameras ``P1, P2 (..., 3, 4)``:
    ``F = [e2]_x P2 P1^+`` with the epipole ``e2 = P2 C1`` (H&Z eq. 9.1). Its scale
    is arbitrary (it follows the cameras')."""
    P1, P2 = _floats(P1, P2)
    e2 = (P2 @ camera_center_homogeneous(P1)[..., None])[..., 0]
    return skew(e2) @ P2 @ torch.linalg.pinv(P1)


def epipolar_line(F: TensorLike, x2: TensorLike) -> torch.Tensor:
    """Line ``l1 = F^T x2 (..., 3)`` in view 1 on which view 2's ``x2`` lies."""
    F, x2 = _floats(F, x2)
    return (F.transpose(-1, -2) @ _homogeneous(x2, 'x2')[..., None])[..., 0]


def epipolar_distance(x1: TensorLike, x2: TensorLike, P1: TensorLike, P2: TensorLike,
                      normalize: bool = True, reduction: str = 'none',
                      transforms: Optional[Sequence[TensorLike]] = None) -> torch.Tensor:
    """Distance of view-1 points to the epipolar lines of their view-2 images.

    Args:
        x1: ``(..., 2)`` view-1 pixel positions (differentiable).
        x2: ``(..., 2)`` the same points' pixel positions in view 2.
        P1, P2: ``(..., 3, 4)`` pixel cameras ``K [R | t]``.
        normalize: measure in view 1's normalised coordinates
            (:func:`~kplink_mm.geometry.trifocal.normalizing_transform` of the
            camera: pixels / focal length, as the trifocal loss does) instead of
            pixels. Either way it is a true point-line distance, so it does not
            depend on the scale of ``F``.
        reduction: ``'none'`` (shape ``(...)``), ``'mean'`` or ``'sum'``.
        transforms: explicit ``(H1, H2)`` normalising similarities (overrides the
            camera-based ones; only with ``normalize``).

    Zero for every point of the line (the constraint says nothing along it) and
    equal to the perpendicular offset off it.
    """
    x1, x2, P1, P2 = _floats(x1, x2, P1, P2)
    if normalize:
        if transforms is not None:
            H1, H2 = _floats(*transforms)
        else:
            H1, H2 = normalizing_transform(camera=P1), normalizing_transform(camera=P2)
        H1, H2 = _floats(H1, H2, x1)[:2]
        y1, y2 = _apply(H1, x1), _apply(H2, x2)
        F = fundamental_matrix(H1 @ P1, H2 @ P2)
    else:
        y1, y2 = _homogeneous(x1, 'x1'), _homogeneous(x2, 'x2')
        F = fundamental_matrix(P1, P2)
    line = epipolar_line(F, y2)
    dist = (line * y1).sum(-1).abs() / _safe_norm(line[..., :2], -1).clamp(
        min=torch.finfo(line.dtype).tiny)
    return _reduce(dist, reduction)

"""Differentiable perspective projection for the 3D-KGNN (Occlusion-Net Eq. 10).

The camera is parameterised as in the paper: focal length ``f``, rotation ``q``
(quaternion, ``(w, x, y, z)``, need not be normalised) and translation ``t`` of the
object in the camera frame. Camera-frame conventions follow
:mod:`kplink_mm.geometry.camera` (OpenCV: x right, y down, z forward), so with
``q`` from :func:`~kplink_mm.geometry.quaternion.matrix_to_quaternion` of an
extrinsic ``R`` this matches :func:`~kplink_mm.geometry.camera.project_points`
with ``K = [[f, 0, cx], [0, f, cy], [0, 0, 1]]``.
"""
from typing import Optional, Tuple

import torch

from .quaternion import TensorLike, quaternion_to_matrix

__all__ = ['perspective_project']


def perspective_project(points: TensorLike, focal: TensorLike, quaternion: TensorLike,
                        translation: TensorLike, principal_point: Optional[TensorLike] = None,
                        eps: float = 1e-6) -> Tuple[torch.Tensor, torch.Tensor]:
    """Project object-frame points with a perspective camera.

    ``X_c = R(q) X + t``, ``u = f_x X_c / Z_c + c_x``, ``v = f_y Y_c / Z_c + c_y``.

    Args:
        points: ``(B, N, 3)`` object-frame points (any leading batch dims ``...``
            instead of ``B`` work the same way for every argument).
        focal: ``(B,)`` or ``(B, 1)`` focal length (square pixels), or ``(B, 2)``
            for ``(f_x, f_y)``.
        quaternion: ``(B, 4)`` object-to-camera rotation ``(w, x, y, z)``;
            normalised internally.
        translation: ``(B, 3)`` object origin in the camera frame.
        principal_point: ``(B, 2)`` or ``(2,)``; ``None`` means the origin (the
            paper's assumption: coordinates are relative to the principal point).
        eps: the depth used for the division is ``max(Z_c, eps)``, so points at or
            behind the camera give finite (but meaningless) coordinates and
            gradients instead of inf/NaN; the clamp has zero gradient there.

    Returns:
        ``(uv (B, N, 2), depth (B, N))``: projected coordinates in the units of
        ``focal`` / ``principal_point`` and the *unclamped* camera-frame depth
        ``Z_c`` (check ``depth > 0`` for points in front of the camera).
    """
    points = torch.as_tensor(points)
    if not points.is_floating_point():
        points = points.to(torch.get_default_dtype())

    def conv(x):
        return torch.as_tensor(x, dtype=points.dtype, device=points.device)

    if points.shape[-1] != 3:
        raise ValueError(f'points must be (..., N, 3), got {tuple(points.shape)}')
    batch = points.shape[:-2]
    R = quaternion_to_matrix(conv(quaternion))                      # (..., 3, 3)
    t = conv(translation)
    xc = points @ R.transpose(-1, -2) + t[..., None, :]             # (..., N, 3)
    depth = xc[..., 2]
    uv = xc[..., :2] / depth.clamp(min=eps)[..., None]

    f = conv(focal)
    # (B,) is one focal per camera; (B, 1) the same, (B, 2) is (fx, fy)
    if f.dim() <= len(batch):
        f = f[..., None]
    elif f.shape[-1] not in (1, 2):
        raise ValueError(f'focal must be (B,), (B, 1) or (B, 2), got {tuple(f.shape)} '
                         f'for points {tuple(points.shape)}')
    uv = uv * f[..., None, :]
    if principal_point is not None:
        uv = uv + conv(principal_point)[..., None, :]
    return uv, depth

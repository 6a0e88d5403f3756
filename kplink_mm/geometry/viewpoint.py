"""Viewpoints of an upright object and weak-perspective alignment (numpy).

An object stands on z = 0 of its frame (z up, as in kplink-synth). A camera on the
viewing sphere at azimuth ``a`` and elevation ``e`` sits in direction
``(cos e cos a, cos e sin a, sin e)`` from the object and looks at its origin with
image "up" along +z. Under weak perspective (an orthographic projection, then a
scale and a shift) a keypoint ``X`` lands at ``s * (R @ X)[:2] + t``. Used to name
keypoint peaks consistently with one rigid pose
(``kplink_mm.models.utils.viewpoint_naming``).
"""
from typing import Sequence, Tuple

import numpy as np

from .camera import look_at

__all__ = ['viewing_sphere_rotations', 'orthographic_project', 'fit_scale_translation',
           'facing_camera']


def viewing_sphere_rotations(azimuth_step_deg: float = 10.0,
                             elevations_deg: Sequence[float] = (0, 10, 20, 30, 40, 50)
                             ) -> np.ndarray:
    """Camera rotations (world -> camera, OpenCV axes) on a grid of the viewing
    sphere: azimuths ``0, step, ..., < 360`` at each elevation (|e| < 90).

    Returns ``(len(elevations) * n_azimuths, 3, 3)``, elevation-major.
    """
    if not 0 < azimuth_step_deg <= 360:
        raise ValueError(f'azimuth_step_deg must be in (0, 360], got {azimuth_step_deg}')
    rots = []
    for e in np.deg2rad(np.asarray(elevations_deg, np.float64)):
        if abs(e) >= np.pi / 2 - 1e-6:
            raise ValueError(f'elevation {np.rad2deg(e)} deg: the camera would look '
                             'straight down the up axis')
        for a in np.deg2rad(np.arange(0.0, 360.0 - 1e-9, azimuth_step_deg)):
            eye = np.array([np.cos(e) * np.cos(a), np.cos(e) * np.sin(a), np.sin(e)])
            rots.append(look_at(eye, np.zeros(3))[0])
    return np.stack(rots)


def orthographic_project(points: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """``(..., N, 2)`` image-plane coordinates (x right, y down) of ``(N, 3)`` points
    under each rotation ``(..., 3, 3)``."""
    return np.einsum('...ij,nj->...ni', np.asarray(rotations, np.float64)[..., :2, :],
                     np.asarray(points, np.float64))


def fit_scale_translation(src: np.ndarray, dst: np.ndarray, weights: np.ndarray = None
                          ) -> Tuple[float, np.ndarray]:
    """Weighted least squares ``min_{s,t} sum w_i ||s * src_i + t - dst_i||^2`` in
    closed form (no rotation: the viewpoint fixes it). ``src``/``dst``: (N, 2).

    Returns ``(s, t)``; ``s`` is 0 when ``src`` has no spread (one point, or all
    weight on one point), in which case ``t`` is the weighted mean of ``dst``.
    """
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, np.float64)
    if len(src) == 0 or w.sum() <= 0:
        raise ValueError('fit_scale_translation needs at least one point with weight > 0')
    w = w / w.sum()
    ms, md = w @ src, w @ dst
    cs, cd = src - ms, dst - md
    den = float(w @ (cs ** 2).sum(1))
    s = float(w @ (cs * cd).sum(1)) / den if den > 1e-12 else 0.0
    return s, md - s * ms


def facing_camera(normals: np.ndarray, rotations: np.ndarray) -> np.ndarray:
    """Cosine between each outward normal ``(N, 3)`` and the direction to the camera
    for each rotation ``(..., 3, 3)``: ``(..., N)``; > 0 faces the camera."""
    forward = np.asarray(rotations, np.float64)[..., 2, :]   # camera z axis in the world
    return -np.einsum('...j,nj->...n', forward, np.asarray(normals, np.float64))

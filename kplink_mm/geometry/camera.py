"""Pinhole camera helpers (pure numpy, no torch).

Conventions (OpenCV):

* world frame: z up, the ground is the plane z = 0;
* camera frame: x right, y down, z forward (along the optical axis);
* ``x_cam = R @ X_world + t``; ``pixel = K @ x_cam / z_cam``;
* pixel coordinates are continuous (COCO convention): pixel ``(row i, col j)``
  covers ``[j, j+1) x [i, i+1)`` and its centre is ``(j + 0.5, i + 0.5)``; a point
  is inside a ``W x H`` image iff ``0 <= u < W`` and ``0 <= v < H``.
"""
from typing import Sequence, Tuple, Union

import numpy as np

ArrayLike = Union[np.ndarray, Sequence[float]]

__all__ = [
    'intrinsics', 'rotation_x', 'rotation_y', 'rotation_z', 'look_at',
    'projection_matrix', 'transform_points', 'project_points', 'camera_center',
    'backproject', 'horizon_mask'
]


def intrinsics(focal: Union[float, Tuple[float, float]], cx: float, cy: float) -> np.ndarray:
    """3x3 intrinsic matrix. ``focal`` is a scalar (square pixels) or ``(fx, fy)``."""
    if np.ndim(focal) == 0:
        fx = fy = float(focal)
    else:
        fx, fy = (float(f) for f in focal)
    return np.array([[fx, 0.0, cx], [0.0, fy, cy], [0.0, 0.0, 1.0]], dtype=np.float64)


def rotation_x(angle: float) -> np.ndarray:
    """Rotation by ``angle`` radians about the x axis (right-handed)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def rotation_y(angle: float) -> np.ndarray:
    """Rotation by ``angle`` radians about the y axis (right-handed)."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def rotation_z(yaw: float) -> np.ndarray:
    """Rotation by ``yaw`` radians about the (world/object) z axis, counter-clockwise
    seen from above: ``rotation_z(pi/2) @ [1, 0, 0] == [0, 1, 0]``."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def look_at(eye: ArrayLike, target: ArrayLike, up: ArrayLike = (0.0, 0.0, 1.0)
            ) -> Tuple[np.ndarray, np.ndarray]:
    """Extrinsics ``(R, t)`` of a camera at ``eye`` whose optical axis points at
    ``target`` with image "up" (-y) as close as possible to ``up``.

    The rows of ``R`` are the camera axes in world coordinates: x (right) =
    forward x up, y (down) = forward x right, z = forward; ``t = -R @ eye``.
    Raises ``ValueError`` if ``eye == target`` or the view direction is parallel
    to ``up``.
    """
    eye = np.asarray(eye, dtype=np.float64).reshape(3)
    target = np.asarray(target, dtype=np.float64).reshape(3)
    up = np.asarray(up, dtype=np.float64).reshape(3)
    forward = target - eye
    n = np.linalg.norm(forward)
    if n < 1e-12:
        raise ValueError('look_at: eye and target coincide')
    forward = forward / n
    right = np.cross(forward, up)
    nr = np.linalg.norm(right)
    if nr < 1e-9:
        raise ValueError('look_at: viewing direction is parallel to the up vector')
    right = right / nr
    down = np.cross(forward, right)
    R = np.stack([right, down, forward], axis=0)
    t = -R @ eye
    return R, t


def projection_matrix(K: ArrayLike, R: ArrayLike, t: ArrayLike) -> np.ndarray:
    """3x4 matrix ``P = K [R | t]``."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    t = np.asarray(t, dtype=np.float64).reshape(3, 1)
    return K @ np.hstack([R, t])


def transform_points(X: ArrayLike, R: ArrayLike, t: ArrayLike) -> np.ndarray:
    """``(N,3)`` points mapped by ``X @ R.T + t`` (world -> camera for extrinsics)."""
    X = np.asarray(X, dtype=np.float64).reshape(-1, 3)
    return X @ np.asarray(R, dtype=np.float64).reshape(3, 3).T + np.asarray(
        t, dtype=np.float64).reshape(1, 3)


def project_points(X: ArrayLike, K: ArrayLike, R: ArrayLike, t: ArrayLike
                   ) -> Tuple[np.ndarray, np.ndarray]:
    """Project world points ``X (N,3)``; returns ``(uv (N,2), depth (N,))`` where depth
    is the camera-frame z. Points at or behind the camera get a finite but
    meaningless ``uv`` (check ``depth > 0``)."""
    xc = transform_points(X, R, t)
    z = xc[:, 2]
    zs = np.where(np.abs(z) < 1e-12, 1e-12, z)
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    p = xc @ K.T
    uv = p[:, :2] / zs[:, None]
    return uv, z


def camera_center(R: ArrayLike, t: ArrayLike) -> np.ndarray:
    """Camera centre in world coordinates: ``-R.T @ t``."""
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    return -R.T @ np.asarray(t, dtype=np.float64).reshape(3)


def backproject(uv: ArrayLike, depth: ArrayLike, K: ArrayLike, R: ArrayLike, t: ArrayLike
                ) -> np.ndarray:
    """Inverse of :func:`project_points`: world points of pixels ``uv (N,2)`` at
    camera-frame depths ``depth (N,)``."""
    uv = np.asarray(uv, dtype=np.float64).reshape(-1, 2)
    depth = np.asarray(depth, dtype=np.float64).reshape(-1)
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    rays = np.linalg.solve(K, np.hstack([uv, np.ones((len(uv), 1))]).T).T
    xc = rays * depth[:, None]
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    return (xc - np.asarray(t, dtype=np.float64).reshape(1, 3)) @ R


def horizon_mask(K: ArrayLike, R: ArrayLike, height: int, width: int) -> np.ndarray:
    """Boolean ``(H,W)`` mask of the pixels whose viewing ray points below the
    horizon (would hit the ground plane z = 0 in front of a camera above it)."""
    K = np.asarray(K, dtype=np.float64).reshape(3, 3)
    R = np.asarray(R, dtype=np.float64).reshape(3, 3)
    # world z-component of the ray through pixel (u, v): a . [u, v, 1]
    a = (R.T @ np.linalg.inv(K))[2]
    u = np.arange(width) + 0.5
    v = np.arange(height) + 0.5
    return (a[0] * u[None, :] + a[1] * v[:, None] + a[2]) < 0

"""Pure-numpy geometry helpers (cameras, projections)."""
from .camera import (backproject, camera_center, horizon_mask, intrinsics, look_at,
                     project_points, projection_matrix, rotation_x, rotation_y,
                     rotation_z, transform_points)

__all__ = [
    'intrinsics', 'rotation_x', 'rotation_y', 'rotation_z', 'look_at',
    'projection_matrix', 'transform_points', 'project_points', 'camera_center',
    'backproject', 'horizon_mask'
]

"""Geometry helpers: numpy cameras/projections (``camera``) and differentiable torch
quaternions, perspective projection, epipolar and trifocal geometry and PCA shape bases."""
from .camera import (backproject, camera_center, horizon_mask, intrinsics, look_at,
                     project_points, projection_matrix, rotation_x, rotation_y,
                     rotation_z, transform_points)
from .epipolar import (camera_center_homogeneous, epipolar_distance, epipolar_line,
                       fundamental_matrix)
from .perspective import perspective_project
from .quaternion import (axis_angle_to_quaternion, matrix_to_quaternion, quaternion_multiply,
                         quaternion_to_matrix)
from .shape_basis import (compose_shape, fit_shape_basis, load_shape_bases, project_to_basis,
                          save_shape_bases)
from .trifocal import (incidence_residual, normalizing_transform, skew, transfer_point,
                       trifocal_loss, trifocal_tensor, trifocal_transfer,
                       trifocal_transfer_error)
from .viewpoint import (facing_camera, fit_scale_translation, orthographic_project,
                        viewing_sphere_rotations)

__all__ = [
    'intrinsics', 'rotation_x', 'rotation_y', 'rotation_z', 'look_at',
    'projection_matrix', 'transform_points', 'project_points', 'camera_center',
    'backproject', 'horizon_mask', 'quaternion_to_matrix', 'matrix_to_quaternion',
    'quaternion_multiply', 'axis_angle_to_quaternion', 'perspective_project',
    'trifocal_tensor', 'incidence_residual', 'transfer_point', 'normalizing_transform',
    'trifocal_loss', 'trifocal_transfer', 'trifocal_transfer_error', 'skew',
    'fit_shape_basis', 'compose_shape', 'project_to_basis', 'save_shape_bases',
    'load_shape_bases', 'camera_center_homogeneous', 'fundamental_matrix', 'epipolar_line',
    'epipolar_distance', 'viewing_sphere_rotations', 'orthographic_project',
    'fit_scale_translation', 'facing_camera'
]

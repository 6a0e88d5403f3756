from .category_implicit import CategoryImplicitPoseEstimator
from .occlusion_net import OcclusionNet

__all__ = ['CategoryImplicitPoseEstimator', 'OcclusionNet']

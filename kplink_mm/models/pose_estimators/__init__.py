from .category_implicit import CategoryImplicitPoseEstimator
from .klpnet import KLPNet
from .occlusion_net import OcclusionNet

__all__ = ['CategoryImplicitPoseEstimator', 'KLPNet', 'OcclusionNet']

from .category_implicit import CategoryImplicitPoseEstimator

__all__ = ['CategoryImplicitPoseEstimator']

from .gt_drawer import draw_coco_image, draw_gt
from .klpnet_drawer import draw_targets
from .pose_visualizer import KplinkPoseLocalVisualizer

__all__ = ['draw_gt', 'draw_coco_image', 'draw_targets', 'KplinkPoseLocalVisualizer']

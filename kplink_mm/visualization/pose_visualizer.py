"""mmpose's PoseLocalVisualizer, working with numpy >= 2.4."""
import numpy as np
from mmpose.registry import VISUALIZERS
from mmpose.visualization import PoseLocalVisualizer


@VISUALIZERS.register_module()
class KplinkPoseLocalVisualizer(PoseLocalVisualizer):
    """PoseLocalVisualizer that draws keypoints under numpy >= 2.4.

    mmpose 1.3.2 passes ``radius=np.array([r])`` and its OpenCV backend calls
    ``int(radius)``, which numpy 2.4 refuses for a 1-element array ("only
    0-dimensional arrays can be converted to Python scalars"): every drawn keypoint
    fails. Radii are handed on as 0-d arrays on that backend.
    """

    def draw_circles(self, center, radius, *args, **kwargs):
        if self.backend == 'opencv':
            radius = np.asarray(radius)
            if radius.size == 1:
                radius = radius.reshape(())
        return super().draw_circles(center, radius, *args, **kwargs)

from .kplink_synth_det import KplinkSynthDetDataset
from .kplink_synth_pose import KplinkSynthPoseDataset
from .metainfo import build_union_metainfo, category_slices
from .transforms import UnlabelledKeypointsAsNegatives

__all__ = [
    'KplinkSynthDetDataset', 'KplinkSynthPoseDataset', 'build_union_metainfo',
    'category_slices', 'UnlabelledKeypointsAsNegatives'
]

import numpy as np
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

from mmpose.structures import PoseDataSample


def test_draws_keypoints_and_links_with_numpy_2(tmp_path):
    from mmpose.registry import VISUALIZERS

    import kplink_mm  # noqa: F401
    from kplink_mm.datasets import KplinkSynthPoseDataset
    init_default_scope('mmpose')
    vis = VISUALIZERS.build(dict(type='KplinkPoseLocalVisualizer', name='vis_test',
                                 vis_backends=[]))
    meta = KplinkSynthPoseDataset.METAINFO
    vis.set_dataset_meta(KplinkSynthPoseDataset._load_metainfo(meta))
    K = 97
    kpts = np.zeros((1, K, 2), np.float32)
    scores = np.zeros((1, K), np.float32)
    kpts[0, :12] = np.random.default_rng(0).uniform(10, 90, (12, 2))  # car slice
    scores[0, :12] = 0.9
    sample = PoseDataSample()
    sample.pred_instances = InstanceData(keypoints=kpts, keypoint_scores=scores,
                                         bboxes=np.array([[5, 5, 95, 95]], np.float32))
    image = np.zeros((100, 100, 3), np.uint8)
    out = tmp_path / 'vis.png'
    vis.add_datasample('x', image, data_sample=sample, draw_gt=False, kpt_thr=0.3,
                       out_file=str(out))
    assert out.exists()
    drawn = vis.get_image()
    assert drawn.sum() > 0  # keypoints were drawn onto the black image

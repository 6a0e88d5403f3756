"""UnlabelledKeypointsAsNegatives: a target's not-visible keypoints get a weighted zero
heatmap (Occlusion-Net's "not labelled means invisible"), nothing else changes."""
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from kplink_mm.datasets import UnlabelledKeypointsAsNegatives

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
NEG_CFG = osp.join(REPO, 'configs/occlusion_net/'
                   'heatmap-visible-neg_res18_cpu_kplink-synth-128x128.py')


def _encoded(visible, keypoints=None):
    """A sample after mmpose's GenerateTarget (MSRAHeatmap) over 6 union slots."""
    from mmpose.datasets.transforms import GenerateTarget
    codec = dict(type='MSRAHeatmap', input_size=(64, 64), heatmap_size=(16, 16), sigma=1.0)
    if keypoints is None:
        keypoints = np.array([[[10, 10], [20, 20], [30, 30], [40, 40], [50, 50],
                               [12, 50]]], dtype=np.float32)
    results = dict(keypoints=keypoints,
                   keypoints_visible=np.array([visible], dtype=np.float32),
                   category_slice=(2, 3), img_path='img_007.png')
    return GenerateTarget(encoder=codec)(results)


def test_not_visible_slots_of_the_category_become_weighted_zero_targets():
    results = _encoded([1, 0, 1, 0, 0, 1])
    before = results['keypoint_weights'].copy()
    np.testing.assert_array_equal(before, [[1, 0, 1, 0, 0, 1]])
    out = UnlabelledKeypointsAsNegatives(weight=0.5)(results)
    # slots 0, 1, 5 belong to other categories: untouched; slot 2 is visible: kept;
    # slots 3, 4 are this category's unlabelled keypoints: zero target, weight 0.5
    np.testing.assert_array_equal(out['keypoint_weights'], [[1, 0, 1, 0.5, 0.5, 1]])
    assert out['heatmaps'][3].max() == 0 and out['heatmaps'][4].max() == 0
    assert out['heatmaps'][2].max() > 0.9


def test_a_visible_keypoint_outside_the_heatmap_keeps_the_codecs_zero_weight():
    kpts = np.array([[[10, 10], [20, 20], [30, 30], [400, 40], [50, 50], [12, 50]]],
                    dtype=np.float32)
    results = _encoded([1, 1, 1, 1, 0, 1], keypoints=kpts)
    assert results['keypoint_weights'][0, 3] == 0  # the codec: out of the heatmap
    out = UnlabelledKeypointsAsNegatives()(results)
    np.testing.assert_array_equal(out['keypoint_weights'], [[1, 1, 1, 0, 1, 1]])


def test_visibility_with_weights_channel_is_read():
    results = _encoded([1, 0, 1, 0, 1, 1])
    results['keypoints_visible'] = np.stack(
        [results['keypoints_visible'], np.ones_like(results['keypoints_visible'])], -1)
    out = UnlabelledKeypointsAsNegatives()(results)
    np.testing.assert_array_equal(out['keypoint_weights'], [[1, 0, 1, 1, 1, 1]])


def test_errors_name_the_field_and_the_image():
    results = _encoded([1, 0, 1, 0, 0, 1])
    del results['category_slice']
    with pytest.raises(KeyError, match="img_007.png.*'category_slice'"):
        UnlabelledKeypointsAsNegatives()(results)
    results = _encoded([1, 0, 1, 0, 0, 1])
    results['category_slice'] = (4, 3)
    with pytest.raises(ValueError, match=r'category_slice=\(4, 3\)'):
        UnlabelledKeypointsAsNegatives()(results)
    # a peak under a keypoint marked not visible (labelled-mode data) is refused
    results = _encoded([1, 0, 1, 1, 0, 1])
    results['keypoints_visible'][0, 3] = 0
    with pytest.raises(ValueError, match="keypoint_visibility='visible'"):
        UnlabelledKeypointsAsNegatives()(results)
    for bad in (-1.0, float('nan')):
        with pytest.raises(ValueError, match='weight must be finite'):
            UnlabelledKeypointsAsNegatives(weight=bad)


def test_config_pipeline_on_real_samples(tiny_synth_mv):
    """On kplink-synth through the config's whole train pipeline (flip included):
    every occluded or out-of-image keypoint of the target's category is a weighted
    zero target; visible ones keep their peak; other categories' slots stay ignored."""
    import kplink_mm  # noqa: F401  (registers the dataset and the transform)
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    init_default_scope('mmpose')
    cfg = Config.fromfile(NEG_CFG)
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = tiny_synth_mv
    ds_cfg.ann_file = 'annotations/mv_train.json'
    dataset = DATASETS.build(ds_cfg)
    seen_negative = 0
    for i in range(min(len(dataset), 12)):
        sample = dataset[i]
        data_sample = sample['data_samples']
        weights = np.asarray(data_sample.gt_instance_labels.keypoint_weights)[0]
        visible = np.asarray(data_sample.gt_instances.keypoints_visible)[0]
        start, count = dataset.get_data_info(i)['category_slice']
        in_cat = np.zeros_like(weights, dtype=bool)
        in_cat[start:start + count] = True
        assert np.all(weights[~in_cat] == 0)
        negative = in_cat & (visible < 0.5)
        assert np.all(weights[negative] == 1)
        heatmaps = np.asarray(data_sample.gt_fields.heatmaps)
        assert np.all(heatmaps[negative].reshape(negative.sum(), -1).max(1) == 0)
        seen_negative += int(negative.sum())
    assert seen_negative > 0


def test_config_trains(tiny_synth_mv, tiny_pose_cfg_options, tmp_path, subprocess_env):
    work = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/train.py'), NEG_CFG, '--work-dir', work,
         '--cfg-options', 'train_dataloader.dataset.ann_file=annotations/mv_train.json',
         *tiny_pose_cfg_options(tiny_synth_mv)],
        cwd=str(tmp_path), env=subprocess_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert 'loss_kpt' in proc.stdout + proc.stderr
    assert osp.exists(osp.join(work, 'epoch_1.pth'))

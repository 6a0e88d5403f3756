"""Every CKLM / KLPNet / pose-baseline config parses, builds and runs a forward pass."""
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs/cklm/*.py')) +
                 glob.glob(osp.join(REPO, 'configs/klpnet/*.py')) +
                 glob.glob(osp.join(REPO, 'configs/baselines/topdown-heatmap_res18*_kplink-synth-128x128.py')))


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_builds_and_forwards(path):
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmpose'
    init_default_scope('mmpose')
    from mmpose.registry import MODELS
    model = MODELS.build(cfg.model).eval()
    w, h = (cfg.codec['input_size'] if 'codec' in cfg else (128, 128))
    with torch.no_grad():
        out = model._forward(torch.zeros(1, 3, h, w))
    if cfg.model.head.type == 'CKLMHead':
        assert len(out) == cfg.model.head.num_stages
        hw = tuple(cfg.codec['heatmap_size'][::-1])
        assert all(o.shape[-2:] == hw for o in out)
        # the train pipeline encodes with the same codec as the head decodes with
        gen = [t for t in cfg.train_dataloader.dataset.pipeline if t.type == 'GenerateTarget']
        assert gen[0].encoder == cfg.model.head.decoder
    if cfg.model.type == 'KLPNet':
        # the link head samples the level it is told, with that level's width
        level = model.extract_feat(torch.zeros(1, 3, h, w))[cfg.model.link_head.in_index]
        assert level.shape[1] == cfg.model.link_head.in_channels
        pack = [t for t in cfg.train_dataloader.dataset.pipeline
                if t.type == 'PackPoseInputs']
        assert pack[0].get('pack_transformed'), 'links are learned from crop-space labels'
    # the LR steps fall inside the schedule (a 20-epoch variant must move them too)
    for sched in cfg.param_scheduler:
        if sched.type == 'MultiStepLR' and sched.get('by_epoch', True):
            assert max(sched.milestones) < cfg.train_cfg.max_epochs
            assert sched.end == cfg.train_cfg.max_epochs
    # the evaluators build (e.g. per-category link operating points are valid)
    from mmpose.registry import METRICS
    evaluators = cfg.val_evaluator if isinstance(cfg.val_evaluator, list) \
        else [cfg.val_evaluator]
    for ev in evaluators:
        METRICS.build(ev)


def test_union_keypoint_count_matches_metainfo():
    from kplink_mm.datasets.metainfo import build_union_metainfo
    cfg = Config.fromfile(osp.join(REPO, 'configs/_base_/datasets/kplink_synth_pose.py'))
    assert cfg.num_union_keypoints == len(build_union_metainfo()['keypoint_info'])

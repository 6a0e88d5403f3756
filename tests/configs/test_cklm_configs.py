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


def test_train6k_config_spends_the_20e_iterations_on_more_images(tmp_path):
    """5 epochs over the generated train6k split (11,932 targets): the 20-epoch catlogits
    model, validation and optimizer, about the same iterations (1,865 vs 1,900 steps of 32
    targets) with the LR steps at the same fractions of the schedule (14/20, 18/20); a
    missing split names its file and the generator."""
    cfgs = {name: Config.fromfile(osp.join(
        REPO, f'configs/cklm/cklm-3s-cls-naming-catlogits-{name}_res18_cpu_kplink-synth-128x128.py'))
        for name in ('train6k', '20e')}
    more, plain = cfgs['train6k'], cfgs['20e']
    for key in ('model', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'optim_wrapper'):
        assert more[key] == plain[key], key
    m, p = more.train_dataloader.to_dict(), plain.train_dataloader.to_dict()
    assert m['dataset'].pop('ann_file') == 'annotations/train6k.json'
    assert p['dataset'].pop('ann_file') == 'annotations/train.json'
    assert m == p

    # annotations in train6k (6,000 scenes, seed 0) and the default train split
    # (kplink-synth 1.1); the dataset filters a few, so the loader yields 372 per epoch
    iters = more.train_cfg.max_epochs * more.iters_per_epoch
    assert more.iters_per_epoch == -(-11932 // more.train_dataloader.batch_size)
    plain_iters = -(-3030 // plain.train_dataloader.batch_size) * plain.train_cfg.max_epochs
    assert abs(iters - plain_iters) / plain_iters < 0.02
    step = more.param_scheduler[1]
    assert step.by_epoch is False and step.end == iters
    assert [ms / iters for ms in step.milestones] == pytest.approx(
        [m_ / plain.train_cfg.max_epochs for m_ in plain.param_scheduler[1].milestones],
        abs=1e-3)
    assert more.param_scheduler[0] == plain.param_scheduler[0]   # the same warm-up

    init_default_scope('mmpose')
    from mmpose.registry import DATASETS
    ds_cfg = more.train_dataloader.dataset
    ds_cfg.data_root = str(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'train6k\.json does not exist.*generate_synth'):
        DATASETS.build(ds_cfg)


def test_train6k_baseline_is_the_cklm_train6k_budget():
    """The category-specific baseline on train6k trains on the same data with the same
    schedule as the CKLM train6k config (the equal-budget pair), and differs from the
    20-epoch baseline only in that."""
    def load(rel):
        return Config.fromfile(osp.join(REPO, 'configs', rel))
    base6k = load('baselines/topdown-heatmap_res18-train6k_kplink-synth-128x128.py')
    base20 = load('baselines/topdown-heatmap_res18-20e_kplink-synth-128x128.py')
    cklm6k = load('cklm/cklm-3s-cls-naming-catlogits-train6k_res18_cpu_kplink-synth-128x128.py')
    for key in ('train_cfg', 'param_scheduler', 'optim_wrapper', 'iters_per_epoch'):
        assert base6k[key] == cklm6k[key], key
    assert base6k.train_dataloader.dataset.ann_file == \
        cklm6k.train_dataloader.dataset.ann_file == 'annotations/train6k.json'
    assert base6k.train_dataloader.batch_size == cklm6k.train_dataloader.batch_size
    for key in ('model', 'val_dataloader', 'val_evaluator', 'codec'):
        assert base6k[key] == base20[key], key


@pytest.mark.parametrize('path', [p for p in CONFIGS if '-set' in osp.basename(p)],
                         ids=osp.basename)
def test_set_named_configs_take_likeliest_peaks_with_a_mirror_tested_namer(path):
    """The set-named configs (and the KLPNet config inheriting one) name with the namer's
    mirror test and let each keypoint take its likeliest peak: the settings chosen on
    held-out fitting images (docs/benchmarks.md, sessions 32-33)."""
    head = Config.fromfile(path).model.head
    assert head.identity_feature == 'set' and head.keypoint_choice == 'probability'
    assert head.peak_naming.mirror_test is True

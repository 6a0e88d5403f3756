"""Occlusion-Net config variants differ from the 48-epoch direct config only in what
they say they change."""
import os.path as osp
import re

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(name):
    return Config.fromfile(osp.join(REPO, 'configs/occlusion_net', name))


def _assert_missing_split_is_named(cfg, tmp_path, ann_name):
    """Building the train set over an empty data root names the file and the tool."""
    init_default_scope('mmpose')
    from mmpose.registry import DATASETS

    import kplink_mm  # noqa: F401
    ds_cfg = cfg.train_dataloader.dataset
    ds_cfg.data_root = str(tmp_path)
    with pytest.raises(FileNotFoundError,
                       match=re.escape(ann_name) + ' does not exist.*generate_synth'):
        DATASETS.build(ds_cfg)


def test_train6k_graphs_spend_the_48_epoch_iterations_on_more_instances(tmp_path):
    more = _load('occlusion-net-train6k_res18_cpu_kplink-synth-128x128.py')
    plain = _load('occlusion-net_res18_cpu_kplink-synth-mv-128x128.py')
    for key in ('model', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                'optim_wrapper'):
        assert more[key] == plain[key], key
    m, p = more.train_dataloader.to_dict(), plain.train_dataloader.to_dict()
    assert m['dataset'].pop('ann_file') == 'annotations/train6k.json'
    assert p['dataset'].pop('ann_file') == 'annotations/mv_train.json'
    assert m == p   # same pipeline (no flip / rotation), labels, batch size
    assert more.train_dataloader.dataset.keypoint_visibility == 'labelled'
    assert more.model.supervision == 'direct'   # needs no second view
    # the negatives-trained stage 1, not the plain one the parent defaults to
    assert more.load_from.endswith(
        'heatmap-visible-neg_res18_cpu_kplink-synth-128x128/epoch_10.pth')

    # 11,932 train6k targets vs 1,778 mv_train instances per epoch, batches of 32
    batch = more.train_dataloader.batch_size
    iters = more.train_cfg.max_epochs * more.iters_per_epoch
    assert more.iters_per_epoch == 11932 // batch
    plain_iters = plain.train_cfg.max_epochs * -(-1778 // batch)
    assert abs(iters - plain_iters) / plain_iters < 0.04
    step, plain_step = more.param_scheduler[1], plain.param_scheduler[1]
    assert step.by_epoch is False and step.end == iters
    assert step.milestones[0] / iters == pytest.approx(
        plain_step.milestones[0] / plain.train_cfg.max_epochs, abs=1e-3)
    assert more.param_scheduler[0] == plain.param_scheduler[0]   # the same warm-up
    assert more.train_cfg.val_interval == more.train_cfg.max_epochs
    _assert_missing_split_is_named(more, tmp_path, 'train6k.json')


def test_train6k_stage1_differs_from_the_10_epoch_stage1_in_data_and_schedule_only():
    more = _load('heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128.py')
    plain = _load('heatmap-visible-neg_res18_cpu_kplink-synth-128x128.py')
    for key in ('model', 'val_dataloader', 'test_dataloader', 'val_evaluator',
                'optim_wrapper', 'codec'):
        assert more[key] == plain[key], key
    m, p = more.train_dataloader.to_dict(), plain.train_dataloader.to_dict()
    assert m['dataset'].pop('ann_file') == 'annotations/train6k.json'
    assert p['dataset'].pop('ann_file') == 'annotations/train.json'
    assert m == p   # same pipeline (negatives for unlabelled slots), visible labels only
    assert any(t['type'] == 'UnlabelledKeypointsAsNegatives'
               for t in m['dataset']['pipeline'])
    assert more.train_dataloader.dataset.keypoint_visibility == 'visible'

    batch = more.train_dataloader.batch_size
    assert more.iters_per_epoch == -(-11932 // batch)
    iters = more.train_cfg.max_epochs * more.iters_per_epoch
    step, plain_step = more.param_scheduler[1], plain.param_scheduler[1]
    assert step.by_epoch is False and step.end == iters
    # the LR steps at the same fractions of the schedule as the 10-epoch run (7/10, 9/10)
    fractions = [m_ / iters for m_ in step.milestones]
    plain_fractions = [m_ / plain.train_cfg.max_epochs for m_ in plain_step.milestones]
    assert fractions == pytest.approx(plain_fractions, abs=2e-3)
    assert more.param_scheduler[0] == plain.param_scheduler[0]
    # about twice the 10-epoch run's steps (1,500 images -> 3,030 targets, 95 per epoch)
    assert 1.9 < iters / (plain.train_cfg.max_epochs * 95) < 2.0


def test_graphs_over_the_train6k_stage1_differ_from_the_48_epoch_config_in_load_from_only():
    new = _load('occlusion-net-s1train6k_res18_cpu_kplink-synth-mv-128x128.py').to_dict()
    plain = _load('occlusion-net_res18_cpu_kplink-synth-mv-128x128.py').to_dict()
    assert new.pop('load_from').endswith(
        'work_dirs/heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128/epoch_5.pth')
    plain.pop('load_from')
    assert new == plain
    stage1 = _load('heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128.py')
    assert stage1.train_cfg.max_epochs == 5   # the checkpoint the graph config loads


def test_trifocal_graphs_over_the_train6k_stage1_are_the_direct_twin_but_for_supervision():
    trifocal = _load('occlusion-net-trifocal-s1train6k_res18_cpu_kplink-synth-mv-128x128.py')
    direct = _load('occlusion-net-s1train6k_res18_cpu_kplink-synth-mv-128x128.py')
    assert trifocal.model.supervision == 'trifocal'
    assert direct.model.supervision == 'direct'
    t, d = trifocal.to_dict(), direct.to_dict()
    assert t['load_from'] == d['load_from']   # the same frozen stage 1
    t['model'].pop('supervision')
    d['model'].pop('supervision')
    assert t == d
    # the same as the 48-epoch trifocal config over the old stage 1 but for load_from
    old = _load('occlusion-net-trifocal_res18_cpu_kplink-synth-mv-128x128.py').to_dict()
    t = trifocal.to_dict()
    old.pop('load_from')
    t.pop('load_from')
    assert t == old


def test_trifocal_epipolar_graphs_over_the_train6k_stage1_add_only_the_epipolar_loss():
    epi = _load('occlusion-net-trifocal-epipolar-s1train6k_res18_cpu_kplink-synth-mv-128x128.py')
    trifocal = _load('occlusion-net-trifocal-s1train6k_res18_cpu_kplink-synth-mv-128x128.py')
    e, t = epi.to_dict(), trifocal.to_dict()
    assert e['model'].pop('epipolar_loss')['type'] == 'EpipolarLoss'
    assert 'epipolar_loss' not in t['model']
    assert e == t   # same stage 1 (load_from), supervision, data and schedule


def test_six_view_graphs_differ_from_the_three_view_twins_in_training_split_only(tmp_path):
    six = {}
    for kind in ('', 'trifocal-'):
        six[kind] = _load(f'occlusion-net-{kind}s1train6k_res18_cpu_kplink-synth-mv6-128x128.py')
        three = _load(f'occlusion-net-{kind}s1train6k_res18_cpu_kplink-synth-mv-128x128.py')
        s, t = six[kind].to_dict(), three.to_dict()
        assert s['train_dataloader']['dataset'].pop('ann_file') == 'annotations/mv6_train.json'
        assert t['train_dataloader']['dataset'].pop('ann_file') == 'annotations/mv_train.json'
        # same stage 1, supervision, pipeline, schedule and val/test split (mv_val, 3 views)
        assert s == t, kind
    assert six['trifocal-'].model.supervision == 'trifocal'
    assert six[''].model.supervision == 'direct'
    assert 'epipolar_loss' not in six['trifocal-'].model   # Eq. 9 alone
    _assert_missing_split_is_named(six[''], tmp_path, 'mv6_train.json')

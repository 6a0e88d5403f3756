"""DPAD detection configs: parse, build, CIoU, fair baselines, a few training steps."""
import copy
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG_DIR = osp.join(REPO, 'configs')
DET_CONFIGS = sorted(
    glob.glob(osp.join(CFG_DIR, 'dpad', '*.py')) +
    glob.glob(osp.join(CFG_DIR, 'baselines', 'atss_fpn_*.py')) +
    glob.glob(osp.join(CFG_DIR, 'baselines', 'atss_pafpn_*.py')))
CPU_CFG = osp.join(CFG_DIR, 'dpad', 'atss_dpad_r18_cpu_kplink-synth-256.py')
PAPER_CFG = osp.join(CFG_DIR, 'dpad', 'atss_dpad_x101-64x4d_1x_coco.py')
STRIDES = [8, 16, 32, 64, 128, 256, 512]


def _rel(path):
    return osp.relpath(path, CFG_DIR)


@pytest.fixture(autouse=True)
def _scope():
    import kplink_mm  # noqa: F401
    import kplink_mm.models  # noqa: F401
    init_default_scope('mmdet')


def _build(cfg_model):
    from mmdet.registry import MODELS
    return MODELS.build(copy.deepcopy(cfg_model))


def test_expected_configs_exist():
    names = {_rel(p) for p in DET_CONFIGS}
    for name in ('dpad/atss_dpad_r18_cpu_kplink-synth-256.py',
                 'dpad/atss_dpad_x101-64x4d_1x_coco.py',
                 'dpad/atss_dpad_x50-32x4d_1x_coco.py',
                 'dpad/atss_dpad_x152-32x4d_1x_coco.py',
                 'baselines/atss_fpn_r18_cpu_kplink-synth-256.py',
                 'baselines/atss_pafpn_r18_cpu_kplink-synth-256.py'):
        assert name in names


@pytest.mark.parametrize('path', DET_CONFIGS, ids=_rel)
def test_config_parses_and_builds(path):
    from mmdet.models.losses import CIoULoss
    cfg = Config.fromfile(path)
    assert cfg.default_scope == 'mmdet'
    assert 'kplink_mm' in cfg.custom_imports['imports']
    # The config says CIoU, and the built head uses mmdet's CIoULoss.
    assert cfg.model.bbox_head.loss_bbox.type == 'CIoULoss'
    assert cfg.model.bbox_head.anchor_generator.strides == STRIDES
    assert cfg.model.neck.num_outs == len(STRIDES)
    model = _build(cfg.model)
    assert type(model.bbox_head).__name__ == 'ATSSHead'
    assert isinstance(model.bbox_head.loss_bbox, CIoULoss)
    assert model.bbox_head.num_base_priors == 1  # one anchor per location
    assert type(model.neck).__name__ == cfg.model.neck.type


def test_paper_sized_forward_small_input():
    cfg = Config.fromfile(PAPER_CFG)
    assert cfg.model.backbone.type == 'ResNeXt'
    assert (cfg.model.backbone.depth, cfg.model.backbone.groups,
            cfg.model.backbone.base_width) == (101, 64, 4)
    assert cfg.train_dataloader.dataset.type == 'CocoDataset'
    assert cfg.train_dataloader.dataset.data_root == 'data/coco/'
    model = _build(cfg.model).eval()
    with torch.no_grad():
        cls_scores, bbox_preds, centerness = model._forward(torch.rand(1, 3, 256, 256))
    assert len(cls_scores) == 7
    assert [tuple(c.shape[2:]) for c in cls_scores] == [
        (-(-256 // s), ) * 2 for s in STRIDES]
    assert cls_scores[0].shape[1] == 80 and bbox_preds[0].shape[1] == 4


def test_paper_model_on_kplink_synth_is_the_coco_model_with_10_classes():
    """The GPU kplink-synth config changes the paper model's class count only, and
    reads the same data as the CPU configs."""
    gpu = Config.fromfile(osp.join(CFG_DIR, 'dpad', 'atss_dpad_x101-64x4d_gpu_kplink-synth-256.py'))
    coco, cpu = Config.fromfile(PAPER_CFG), Config.fromfile(CPU_CFG)
    g, c = gpu.to_dict()['model'], coco.to_dict()['model']
    assert g['bbox_head'].pop('num_classes') == 10 and c['bbox_head'].pop('num_classes') == 80
    assert g == c
    assert gpu.train_dataloader.dataset.type == cpu.train_dataloader.dataset.type
    assert gpu.train_dataloader.dataset.ann_file == cpu.train_dataloader.dataset.ann_file
    assert gpu.train_dataloader.batch_size == 16 and gpu.auto_scale_lr.base_batch_size == 16


@pytest.mark.parametrize('name', ['atss_dpad_x50-32x4d_1x_coco.py',
                                  'atss_dpad_x152-32x4d_1x_coco.py'])
def test_table2_depths(name):
    cfg = Config.fromfile(osp.join(CFG_DIR, 'dpad', name))
    model = _build(cfg.model)
    depth = cfg.model.backbone.depth
    assert depth in (50, 152)
    assert model.backbone.stage_blocks == {50: (3, 4, 6, 3), 152: (3, 8, 36, 3)}[depth]


@pytest.mark.parametrize('path, depth', [(CPU_CFG, 77), (PAPER_CFG, 18)],
                         ids=['resnet', 'resnext'])
def test_unknown_backbone_depth_fails_clearly(path, depth, tmp_path):
    child = tmp_path / 'bad_depth.py'
    child.write_text(f"_base_ = {path!r}\nmodel = dict(backbone=dict(depth={depth}))\n")
    cfg = Config.fromfile(str(child))
    with pytest.raises(KeyError, match=f'invalid depth {depth}'):
        _build(cfg.model)


@pytest.mark.parametrize('kind', ['fpn', 'pafpn'])
@pytest.mark.parametrize('suffix', ['r18_cpu_kplink-synth-256', 'r18-synthinit_cpu_kplink-synth-256',
                                    'r18-synthinit_24e_cpu_kplink-synth-256',
                                    'r18-synthinit-msaug_24e_cpu_kplink-synth-256',
                                    'r18-synthinit_6e-train6k_cpu_kplink-synth-256',
                                    'r18-synthinit_12e-train6k_cpu_kplink-synth-256',
                                    'x101-64x4d_1x_coco', 'x101-64x4d_gpu_kplink-synth-256'])
def test_baselines_differ_from_dpad_only_in_the_neck(kind, suffix):
    dpad = Config.fromfile(osp.join(CFG_DIR, 'dpad', f'atss_dpad_{suffix}.py'))
    base = Config.fromfile(osp.join(CFG_DIR, 'baselines', f'atss_{kind}_{suffix}.py'))
    assert base.model.neck.type == kind.upper()
    d, b = dpad.to_dict(), base.to_dict()
    d['model']['neck'].pop('type')
    b['model']['neck'].pop('type')
    for key in ('model', 'train_dataloader', 'val_evaluator', 'optim_wrapper',
                'param_scheduler', 'train_cfg'):
        assert d[key] == b[key], key


def test_synthinit_loads_the_keypoint_models_backbone(tmp_path):
    """The synth-initialised detector takes a pose checkpoint's `backbone.*` weights
    (mmpose and mmdet ResNets share key names); a missing checkpoint is named."""
    from mmpose.models import ResNet as PoseResNet
    torch.manual_seed(0)
    pose_backbone = PoseResNet(depth=18, out_indices=(3, ))
    state = {f'backbone.{k}': v for k, v in pose_backbone.state_dict().items()}
    state['head.final_layer.weight'] = torch.zeros(97, 128, 1, 1)   # ignored
    ckpt = tmp_path / 'pose_epoch_10.pth'
    torch.save(dict(state_dict=state, meta=dict()), ckpt)
    cfg = Config.fromfile(osp.join(CFG_DIR, 'dpad', 'atss_dpad_r18-synthinit_cpu_kplink-synth-256.py'))
    assert cfg.model.backbone.init_cfg.checkpoint.endswith(
        'work_dirs/topdown-heatmap_res18_kplink-synth-128x128/epoch_10.pth')
    cfg.model.backbone.init_cfg.checkpoint = str(ckpt)
    model = _build(cfg.model)
    model.init_weights()
    torch.testing.assert_close(model.backbone.layer3[1].conv2.weight,
                               pose_backbone.layer3[1].conv2.weight)
    torch.testing.assert_close(model.backbone.bn1.running_var, pose_backbone.bn1.running_var)
    cfg.model.backbone.init_cfg.checkpoint = str(tmp_path / 'missing.pth')
    with pytest.raises(FileNotFoundError, match='missing.pth'):
        _build(cfg.model).init_weights()


def _fake_batch(n=2, size=128):
    from mmdet.structures import DetDataSample
    g = torch.Generator().manual_seed(0)
    inputs, samples = [], []
    for _ in range(n):
        inputs.append(torch.randint(0, 256, (3, size, size), generator=g, dtype=torch.uint8))
        s = DetDataSample(metainfo=dict(img_shape=(size, size), ori_shape=(size, size),
                                        scale_factor=(1.0, 1.0)))
        s.gt_instances = InstanceData(
            bboxes=torch.tensor([[10., 12., 60., 70.], [64., 40., 120., 110.]]),
            labels=torch.tensor([1, 7]))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def test_cpu_config_few_training_steps_reduce_loss():
    from mmengine.optim import build_optim_wrapper
    torch.manual_seed(0)
    cfg = Config.fromfile(CPU_CFG)
    assert cfg.model.bbox_head.num_classes == 10
    assert cfg.model.backbone.init_cfg is None  # no download
    model = _build(cfg.model)
    model.init_weights()
    model.train()
    optim = build_optim_wrapper(model, cfg.optim_wrapper)
    batch = _fake_batch()
    losses = []
    for _ in range(8):
        log_vars = model.train_step(batch, optim)
        losses.append(float(log_vars['loss']))
    assert all(torch.isfinite(torch.tensor(losses)))
    assert losses[-1] < 0.8 * losses[0], losses
    model.eval()
    with torch.no_grad():
        preds = model.test_step(batch)
    assert len(preds) == 2 and preds[0].pred_instances.bboxes.shape[-1] == 4


def test_kplink_synth_dataset_config_feeds_the_model(tiny_synth):
    from mmengine.dataset import pseudo_collate

    from mmdet.registry import DATASETS
    cfg = Config.fromfile(CPU_CFG)
    ds_cfg = cfg.train_dataloader.dataset
    assert ds_cfg.type == 'KplinkSynthDetDataset'
    assert (ds_cfg.ann_file, ds_cfg.data_prefix) == ('annotations/train.json', dict(img=''))
    val = cfg.val_dataloader.dataset
    assert cfg.val_evaluator.type == 'CocoMetric'
    assert osp.normpath(cfg.val_evaluator.ann_file) == osp.normpath(
        osp.join(val.data_root, val.ann_file))
    assert osp.normpath(ds_cfg.data_root) == osp.join(REPO, 'data', 'kplink_synth')

    ds_cfg.data_root = tiny_synth
    dataset = DATASETS.build(ds_cfg)
    assert len(dataset) > 0 and len(dataset.metainfo['classes']) == 10
    batch = pseudo_collate([dataset[0], dataset[1]])
    model = _build(cfg.model)
    model.train()
    data = model.data_preprocessor(batch, training=True)
    losses = model(**data, mode='loss')
    assert set(losses) >= {'loss_cls', 'loss_bbox', 'loss_centerness'}
    total = sum(v.sum() if torch.is_tensor(v) else sum(x.sum() for x in v)
                for v in losses.values())
    assert torch.isfinite(total)


def _dpad_variant_and_24e(name, keys):
    """The configs `dpad/<name>.py` and the plain 24e one as dicts, equal in `keys`."""
    variant = Config.fromfile(osp.join(CFG_DIR, 'dpad', f'{name}.py'))
    plain = Config.fromfile(osp.join(
        CFG_DIR, 'dpad', 'atss_dpad_r18-synthinit_24e_cpu_kplink-synth-256.py'))
    v, p = variant.to_dict(), plain.to_dict()
    for key in keys:
        assert v[key] == p[key], key
    return variant, plain, v, p


def test_msaug_config_differs_only_in_the_train_pipeline(tiny_synth):
    """The augmented 24e detector is the 24e one with another TRAIN pipeline (scale
    jitter, crop back to the input size, photometric distortion); its samples stay
    within the input size and keep only boxes that are still objects after the crop."""
    from mmdet.registry import DATASETS
    aug, plain, _, _ = _dpad_variant_and_24e(
        'atss_dpad_r18-synthinit-msaug_24e_cpu_kplink-synth-256',
        ('model', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'optim_wrapper',
         'param_scheduler', 'train_cfg'))
    types = [t['type'] for t in aug.train_dataloader.dataset.pipeline]
    assert types != [t['type'] for t in plain.train_dataloader.dataset.pipeline]
    assert {'RandomResize', 'RandomCrop', 'PhotoMetricDistortion'} <= set(types)

    ds_cfg = aug.train_dataloader.dataset
    ds_cfg.data_root = tiny_synth
    dataset = DATASETS.build(ds_cfg)
    crop_h, crop_w = aug.img_scale
    sizes = set()
    for i in range(min(len(dataset), 12)):
        sample = dataset[i]
        h, w = sample['inputs'].shape[1:]
        sizes.add((h, w))
        assert h <= crop_h and w <= crop_w
        boxes = sample['data_samples'].gt_instances.bboxes.tensor
        assert len(boxes) > 0   # empty crops are re-drawn, not trained on
        assert (boxes[:, 2:] - boxes[:, :2] >= 2).all()
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 2] <= w).all()
        assert (boxes[:, 1] >= 0).all() and (boxes[:, 3] <= h).all()
    assert len(sizes) > 1   # the scale jitter is applied


def test_train6k_config_spends_the_24e_iterations_on_more_images(tmp_path):
    """6 epochs over the 6,000-image train6k split: the 24-epoch model, init, val/test
    and optimizer; about the same iterations (4,500 vs 4,512) with the LR steps at the
    same fractions of the schedule (16/24, 22/24); a missing split names its file."""
    from mmdet.registry import DATASETS
    more, plain, m, p = _dpad_variant_and_24e(
        'atss_dpad_r18-synthinit_6e-train6k_cpu_kplink-synth-256',
        ('model', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'optim_wrapper'))
    assert m['train_dataloader']['dataset'].pop('ann_file') == 'annotations/train6k.json'
    assert p['train_dataloader']['dataset'].pop('ann_file') == 'annotations/train.json'
    assert m['train_dataloader'] == p['train_dataloader']

    iters = more.train_cfg.max_epochs * more.iters_per_epoch
    assert iters == 6000 // more.train_dataloader.batch_size * 6 == 4500
    plain_iters = 1504 // 8 * plain.train_cfg.max_epochs   # 188 iterations per epoch
    assert abs(iters - plain_iters) / plain_iters < 0.01
    step = more.param_scheduler[1]
    assert step.by_epoch is False and step.end == iters
    assert [ms / iters for ms in step.milestones] == pytest.approx(
        [m_ / plain.train_cfg.max_epochs for m_ in plain.param_scheduler[1].milestones])
    assert more.param_scheduler[0] == plain.param_scheduler[0]   # the same warm-up

    ds_cfg = more.train_dataloader.dataset
    ds_cfg.data_root = str(tmp_path)
    with pytest.raises(FileNotFoundError, match=r'train6k\.json does not exist.*generate_synth'):
        DATASETS.build(ds_cfg)


def test_train6k_12e_config_doubles_the_iterations_at_the_same_fractions():
    """12 epochs over train6k: the 6-epoch train6k config with twice the iterations, the
    LR steps still at 16/24 and 22/24 of the schedule and validation every 2 epochs."""
    long, plain, lo, p = _dpad_variant_and_24e(
        'atss_dpad_r18-synthinit_12e-train6k_cpu_kplink-synth-256',
        ('model', 'val_dataloader', 'test_dataloader', 'val_evaluator', 'optim_wrapper'))
    six = Config.fromfile(osp.join(
        CFG_DIR, 'dpad', 'atss_dpad_r18-synthinit_6e-train6k_cpu_kplink-synth-256.py'))
    assert long.train_dataloader.to_dict() == six.train_dataloader.to_dict()
    iters = long.train_cfg.max_epochs * long.iters_per_epoch
    assert iters == 2 * six.train_cfg.max_epochs * six.iters_per_epoch == 9000
    assert long.train_cfg.val_interval == 2
    step = long.param_scheduler[1]
    assert step.by_epoch is False and step.end == iters
    assert [ms / iters for ms in step.milestones] == pytest.approx(
        [m_ / plain.train_cfg.max_epochs for m_ in plain.param_scheduler[1].milestones])
    assert long.param_scheduler[0] == six.param_scheduler[0]   # the same warm-up

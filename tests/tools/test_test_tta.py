"""tools/test.py --tta: detection configs are wrapped in mmdet's DetTTAModel and fed a
test-time-augmentation pipeline (the config's, or mmdet's flip default); pose configs
are refused with the switch they use instead."""
import json
import os.path as osp
import runpy
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DET_CFG = osp.join(REPO, 'configs/dpad/atss_dpad_r18_cpu_kplink-synth-256.py')
MSTTA_CFG = osp.join(
    REPO, 'configs/dpad/atss_dpad_r18-synthinit_12e-train6k-mstta_cpu_kplink-synth-256.py')
COCO_CFG = osp.join(REPO, 'configs/dpad/atss_dpad_x101-64x4d_1x_coco.py')
POSE_CFG = osp.join(REPO, 'configs/cklm/cklm-3s_res18_cpu_kplink-synth-128x128.py')


@pytest.fixture(scope='module')
def test_tool():
    return runpy.run_path(osp.join(REPO, 'tools/test.py'))


@pytest.fixture
def ckpt(tmp_path):
    path = tmp_path / 'model.pth'
    path.write_bytes(b'')   # build_config only checks that it exists
    return str(path)


def _config(tool, argv):
    return tool['build_config'](tool['parse_args'](argv))


@pytest.mark.parametrize('config', [DET_CFG, COCO_CFG], ids=['kplink-synth', 'coco'])
def test_tta_wraps_the_model_and_flips_the_test_pipeline(test_tool, ckpt, config):
    plain = _config(test_tool, [config, ckpt])
    cfg = _config(test_tool, [config, ckpt, '--tta'])
    assert cfg.model.type == 'DetTTAModel'
    assert cfg.model.module.to_dict() == plain.model.to_dict()
    assert cfg.model.tta_cfg.nms.iou_threshold == 0.5
    pipeline = cfg.test_dataloader.dataset.pipeline
    # mmdet's default: the test pipeline with its PackDetInputs replaced by the flip pair
    assert [t['type'] for t in pipeline[:-1]] == \
        [t['type'] for t in plain.test_dataloader.dataset.pipeline[:-1]]
    tta = pipeline[-1]
    assert tta.type == 'TestTimeAug'
    assert [t['prob'] for t in tta.transforms[0]] == [1.0, 0.0]
    assert {'flip', 'flip_direction'} <= set(tta.transforms[1][0]['meta_keys'])
    # the plain run is untouched
    assert plain.test_dataloader.dataset.pipeline[-1]['type'] == 'PackDetInputs'


def test_tta_uses_the_configs_own_pipeline(test_tool, ckpt):
    cfg = _config(test_tool, [MSTTA_CFG, ckpt, '--tta'])
    tta = cfg.test_dataloader.dataset.pipeline[-1]
    assert [t['scale'] for t in tta.transforms[0]] == [(256, 256), (320, 320), (384, 384)]
    assert [t['prob'] for t in tta.transforms[1]] == [1.0, 0.0]
    # without --tta the config tests like its parent
    plain = _config(test_tool, [MSTTA_CFG, ckpt])
    assert plain.model.type == 'ATSS'
    assert plain.test_dataloader.dataset.pipeline[-1]['type'] == 'PackDetInputs'


def test_tta_on_a_pose_config_is_refused(test_tool, ckpt):
    with pytest.raises(SystemExit, match=r"--tta is for detection.*'mmpose'.*flip_test"):
        _config(test_tool, [POSE_CFG, ckpt, '--tta'])


def test_tta_without_a_pack_step_asks_for_a_tta_pipeline(test_tool, ckpt):
    args = test_tool['parse_args']([DET_CFG, ckpt, '--tta', '--cfg-options',
                                    'test_dataloader.dataset.pipeline=[]'])
    with pytest.raises(SystemExit, match='does not end in PackDetInputs.*define tta_pipeline'):
        test_tool['build_config'](args)


def test_tta_test_runs_and_writes_boxes_in_the_image(tiny_synth, tmp_path, subprocess_env):
    """A random DPAD through the flip TTA on a tiny split: the boxes come back in the
    original image's frame (the flipped pass is flipped back) and COCO metrics are made."""
    import torch
    from mmdet.registry import MODELS
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import kplink_mm  # noqa: F401
    cfg = Config.fromfile(DET_CFG)
    with DefaultScope.overwrite_default_scope('mmdet'):
        model = MODELS.build(cfg.model)
        model.init_weights()
    ckpt = str(tmp_path / 'det.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, ckpt)
    prefix = str(tmp_path / 'val_tta')
    work = str(tmp_path / 'work')
    proc = subprocess.run(
        [sys.executable, osp.join(REPO, 'tools/test.py'), DET_CFG, ckpt, '--tta',
         '--work-dir', work, '--cfg-options',
         f'test_dataloader.dataset.data_root={tiny_synth}',
         f'test_evaluator.ann_file={tiny_synth}/annotations/val.json',
         f'test_evaluator.outfile_prefix={prefix}', 'test_dataloader.num_workers=0',
         'test_dataloader.persistent_workers=False', 'model.test_cfg.score_thr=0.0'],
        cwd=str(tmp_path), env=subprocess_env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    assert 'coco/bbox_mAP' in proc.stdout + proc.stderr
    with open(prefix + '.bbox.json') as f:
        dets = json.load(f)
    assert dets
    for det in dets:
        x, y, w, h = det['bbox']
        # 128x128 renders; the merged boxes are clipped to the original image
        assert -1e-3 <= x and -1e-3 <= y and x + w <= 128 + 1e-3 and y + h <= 128 + 1e-3

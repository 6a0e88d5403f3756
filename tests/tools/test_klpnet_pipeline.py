"""KLPNet end to end: joint training (Eq. 8) with tools/train.py, stage-wise link
training on the frozen keypoint model, and tools/test.py with keypoint, overlap,
LIS and link metrics."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs/klpnet/klpnet_res18_cpu_kplink-synth-128x128.py')
CFG_LINKS = osp.join(REPO, 'configs/klpnet/klpnet-links_res18_cpu_kplink-synth-128x128.py')
CFG_LIS = osp.join(REPO, 'configs/klpnet/klpnet-lis_res18_cpu_kplink-synth-128x128.py')
BENCHMARK = 'tools/analysis/klpnet_benchmark.py'  # run in this process (conftest.run_tool)


def _run(args, cwd, env):
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout + proc.stderr


def _metrics(work):
    files = sorted(glob.glob(osp.join(work, '*', '*.json')))
    assert files, f'no metrics json under {work}'
    with open(files[-1]) as f:
        return json.load(f)


def test_klpnet_joint_then_links_then_lis(tiny_synth, tiny_pose_cfg_options, tmp_path,
                                          subprocess_env, run_tool):
    opts = tiny_pose_cfg_options(tiny_synth)
    work = str(tmp_path / 'joint')
    log = _run([osp.join(REPO, 'tools/train.py'), CFG, '--work-dir', work,
                '--cfg-options'] + opts, cwd=str(tmp_path), env=subprocess_env)
    # Eq. 8: both the keypoint and the link losses are trained.
    assert 'loss_link_recon' in log and 'loss_conf_s1' in log
    joint_ckpt = osp.join(work, 'epoch_1.pth')
    assert osp.exists(joint_ckpt)
    state = torch.load(joint_ckpt, map_location='cpu', weights_only=False)['state_dict']
    assert any(k.startswith('link_head.') for k in state)

    # Stage-wise: links only, keypoint model loaded and frozen.
    work_links = str(tmp_path / 'links')
    _run([osp.join(REPO, 'tools/train.py'), CFG_LINKS, '--work-dir', work_links,
          '--cfg-options', f'load_from={joint_ckpt}'] + opts,
         cwd=str(tmp_path), env=subprocess_env)
    links_state = torch.load(osp.join(work_links, 'epoch_1.pth'), map_location='cpu',
                             weights_only=False)['state_dict']
    for key, value in state.items():
        if key.startswith(('backbone.', 'head.')) and value.is_floating_point():
            assert torch.equal(value, links_state[key]), f'{key} changed while frozen'
    assert any(not torch.equal(state[k], links_state[k])
               for k in state if k.startswith('link_head.'))

    # Test with LIS: keypoint, overlap and link metrics all come out.
    test_work = str(tmp_path / 'test_lis')
    _run([osp.join(REPO, 'tools/test.py'), CFG_LIS, osp.join(work_links, 'epoch_1.pth'),
          '--work-dir', test_work, '--show-dir', str(tmp_path / 'vis'), '--cfg-options'] + opts +
         ['default_hooks.visualization.interval=1'], cwd=str(tmp_path), env=subprocess_env)
    assert glob.glob(str(tmp_path / 'vis' / '*'))
    metrics = _metrics(test_work)
    for key in ('kplink/PCK', 'kplink/OracleId', 'kplink/overlap/num_targets',
                'link/AUC', 'link/AP', 'link/F1'):
        assert key in metrics, sorted(metrics)
    assert 0.0 <= metrics['link/AUC'] <= 1.0

    # The whole-image demo (make demo's last step) draws and prints the links.
    out_dir = str(tmp_path / 'demo')
    log = _run([osp.join(REPO, 'demo/klpnet_image_demo.py'), CFG,
                osp.join(work_links, 'epoch_1.pth'), '--ann',
                osp.join(tiny_synth, 'annotations', 'val.json'), '--num-images', '2',
                '--out-dir', out_dir], cwd=str(tmp_path), env=subprocess_env)
    assert len(glob.glob(osp.join(out_dir, '*_klpnet.png'))) == 2
    assert 'keypoints' in log and 'links' in log

    # The Table-5 benchmark tool: rows side by side, ratios to the first row.
    ckpt = osp.join(work_links, 'epoch_1.pth')
    out = run_tool(BENCHMARK, ['--model', f'plain={CFG}:{ckpt}', '--model',
                               f'LIS={CFG_LIS}:{ckpt}', '--work-dir', tmp_path / 'bench',
                               '--cfg-options'] + opts)
    assert 'Keypoints: PCK@0.1' in out and "ratios to 'plain'" in out
    assert 'Links (labels by name' in out and '\nLIS ' in out
    assert 'labels by position' not in out  # neither config scores by position


CFG_PEAK_NODES = osp.join(
    REPO, 'configs/klpnet/klpnet-links-catlogits-peaknodes_res18_cpu_kplink-synth-128x128.py')


def test_links_on_peak_nodes_train_and_score_by_position(tiny_synth, tiny_pose_cfg_options,
                                                         tmp_path, subprocess_env, run_tool):
    """The peak-node config trains its links on a frozen CKLM's peaks and tests with
    the links labelled both by name and by position."""
    opts = tiny_pose_cfg_options(tiny_synth)
    cklm = _random_checkpoint(CFG_PEAK_NODES, 'mmpose', str(tmp_path / 'cklm.pth'))
    work = str(tmp_path / 'peaks')
    log = _run([osp.join(REPO, 'tools/train.py'), CFG_PEAK_NODES, '--work-dir', work,
                '--cfg-options', f'load_from={cklm}'] + opts,
               cwd=str(tmp_path), env=subprocess_env)
    assert 'loss_link_recon' in log and 'loss_conf_s1' not in log
    ckpt = osp.join(work, 'epoch_1.pth')
    out = run_tool(BENCHMARK, ['--model', f'peaks={CFG_PEAK_NODES}:{ckpt}',
                               '--work-dir', tmp_path / 'bench', '--cfg-options'] + opts)
    assert 'Links (labels by name' in out and 'Links (labels by position' in out
    metrics = _metrics(osp.join(str(tmp_path / 'bench'), 'peaks'))
    for key in ('link/F1', 'link_pos/F1', 'link_pos/precision', 'link_pos/recall'):
        assert key in metrics and 0.0 <= metrics[key] <= 1.0, sorted(metrics)


DET_CFG = osp.join(REPO, 'configs/dpad/atss_dpad_r18_cpu_kplink-synth-256.py')
CFG_DET_BOXES = osp.join(REPO,
                         'configs/klpnet/klpnet-detboxes_res18_cpu_kplink-synth-128x128.py')


def _random_checkpoint(config, scope, path, **model_overrides):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    import kplink_mm  # noqa: F401
    cfg = Config.fromfile(config)
    cfg.model.update(model_overrides)
    registry = 'mmdet.registry' if scope == 'mmdet' else 'mmpose.registry'
    MODELS = __import__(registry, fromlist=['MODELS']).MODELS
    with DefaultScope.overwrite_default_scope(scope):
        model = MODELS.build(cfg.model)
        model.init_weights()
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, path)
    return path


def test_klpnet_on_detected_boxes(tiny_synth, tiny_pose_cfg_options, tmp_path,
                                  subprocess_env):
    """DPAD's test writes COCO results; KLPNet tests on them through bbox_file."""
    det_ckpt = _random_checkpoint(DET_CFG, 'mmdet', str(tmp_path / 'det.pth'))
    prefix = str(tmp_path / 'dpad_val')
    _run([osp.join(REPO, 'tools/test.py'), DET_CFG, det_ckpt,
          '--work-dir', str(tmp_path / 'det_test'), '--cfg-options',
          f'test_dataloader.dataset.data_root={tiny_synth}',
          f'test_evaluator.ann_file={tiny_synth}/annotations/val.json',
          f'test_evaluator.outfile_prefix={prefix}', 'test_dataloader.num_workers=0',
          'test_dataloader.persistent_workers=False',
          'model.test_cfg.max_per_img=4', 'model.test_cfg.score_thr=0.0'],
         cwd=str(tmp_path), env=subprocess_env)
    assert osp.isfile(prefix + '.bbox.json')
    klp_ckpt = _random_checkpoint(CFG, 'mmpose', str(tmp_path / 'klp.pth'))
    test_work = str(tmp_path / 'klp_test')
    _run([osp.join(REPO, 'tools/test.py'), CFG_DET_BOXES, klp_ckpt, '--work-dir', test_work,
          '--cfg-options'] + tiny_pose_cfg_options(tiny_synth) +
         [f'test_dataloader.dataset.bbox_file={prefix}.bbox.json',
          'test_dataloader.dataset.det_score_thr=0.0'],
         cwd=str(tmp_path), env=subprocess_env)
    metrics = _metrics(test_work)
    assert 'link/AUC' in metrics or 'link/precision' in metrics, sorted(metrics)

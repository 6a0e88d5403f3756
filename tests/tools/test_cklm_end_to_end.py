"""CKLM trains with tools/train.py, tests with tools/test.py --dump, and the dump
re-evaluates offline to the same numbers."""
import glob
import json
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/cklm/cklm-2s_res18_cpu_kplink-synth-128x128.py')
EVAL_DUMP = 'tools/analysis/eval_pck_dump.py'  # run in this process (conftest.run_tool)


def _run(args, cwd, env):
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout + proc.stderr


def test_cklm_train_test_dump_offline(tiny_synth, tiny_pose_cfg_options, tmp_path,
                                      subprocess_env, run_tool):
    work = str(tmp_path / 'work')
    opts = tiny_pose_cfg_options(tiny_synth)
    _run([osp.join(REPO, 'tools/train.py'), CONFIG, '--work-dir', work, '--cfg-options'] +
         opts, cwd=str(tmp_path), env=subprocess_env)
    ckpt = osp.join(work, 'epoch_1.pth')
    dump = str(tmp_path / 'preds.pkl')
    test_work = str(tmp_path / 'test')
    _run([osp.join(REPO, 'tools/test.py'), CONFIG, ckpt, '--work-dir', test_work, '--dump',
          dump, '--cfg-options'] + opts, cwd=str(tmp_path), env=subprocess_env)
    online_files = glob.glob(osp.join(test_work, '*', '*.json'))
    assert online_files
    with open(online_files[0]) as f:
        online = json.load(f)
    offline_json = str(tmp_path / 'offline.json')
    out = run_tool(EVAL_DUMP, [dump, '--json', offline_json])
    assert '| mean |' in out
    with open(offline_json) as f:
        offline = json.load(f)
    assert 'PCK' in offline and 'OracleId' in offline
    for key, value in offline.items():
        assert online[f'kplink/{key}'] == pytest.approx(value)
    # LIS on overlapping targets: offline --lis gives what the online metric gives.
    lis = '{"feature_sigma": 0.2, "fixed_feature_thr": 4.0}'
    lis_work = str(tmp_path / 'test_lis')
    _run([osp.join(REPO, 'tools/test.py'), CONFIG, ckpt, '--work-dir', lis_work,
          '--cfg-options'] + opts + ['test_evaluator.lis.feature_sigma=0.2',
                                     'test_evaluator.lis.fixed_feature_thr=4.0'],
         cwd=str(tmp_path), env=subprocess_env)
    with open(glob.glob(osp.join(lis_work, '*', '*.json'))[0]) as f:
        online_lis = json.load(f)
    offline_lis_json = str(tmp_path / 'offline_lis.json')
    run_tool(EVAL_DUMP, [dump, '--lis', lis, '--json', offline_lis_json])
    with open(offline_lis_json) as f:
        offline_lis = json.load(f)
    for key, value in offline_lis.items():
        assert online_lis[f'kplink/{key}'] == pytest.approx(value)
    # --claims: the collision counts are printed and saved, consistent with each other
    claims_json = str(tmp_path / 'claims.json')
    out = run_tool(EVAL_DUMP, [dump, '--claims', '--json', claims_json])
    assert 'peaks named by two overlapping crops:' in out
    with open(claims_json) as f:
        claims = json.load(f)
    assert claims['claims/collisions'] == sum(
        claims[f'claims/{k}'] for k in ('one_right', 'both_right', 'none_right'))
    assert claims['claims/score_picks_owner'] <= claims['claims/one_right']


VIEWPOINT_CONFIG = osp.join(
    REPO, 'configs/cklm/cklm-3s-cls-naming-catlogits-viewpoint_res18_cpu_kplink-synth-128x128.py')
SET_CONFIG = osp.join(
    REPO, 'configs/cklm/cklm-3s-cls-naming-catlogits-set_res18_cpu_kplink-synth-128x128.py')


def test_viewpoint_naming_online_equals_offline_renaming(tiny_synth, tiny_pose_cfg_options,
                                                         tmp_path, subprocess_env, run_tool):
    """The viewpoint config trains and tests; re-naming its dump offline with the same
    ViewpointNaming gives the online metrics (the costs do not depend on the crop).
    The same for the learned peak-set naming, trained on the dump by its tool."""
    work = str(tmp_path / 'work')
    opts = tiny_pose_cfg_options(tiny_synth)
    _run([osp.join(REPO, 'tools/train.py'), VIEWPOINT_CONFIG, '--work-dir', work,
          '--cfg-options'] + opts, cwd=str(tmp_path), env=subprocess_env)
    dump, test_work = str(tmp_path / 'preds.pkl'), str(tmp_path / 'test')
    _run([osp.join(REPO, 'tools/test.py'), VIEWPOINT_CONFIG, osp.join(work, 'epoch_1.pth'),
          '--work-dir', test_work, '--dump', dump, '--cfg-options'] + opts,
         cwd=str(tmp_path), env=subprocess_env)
    with open(glob.glob(osp.join(test_work, '*', '*.json'))[0]) as f:
        online = json.load(f)
    offline_json = str(tmp_path / 'offline.json')
    run_tool(EVAL_DUMP, [dump, '--naming', 'viewpoint', '--viewpoint',
                         '{"sigma": 0.15, "facing_weight": 0.5}', '--json', offline_json])
    with open(offline_json) as f:
        offline = json.load(f)
    assert offline['OracleId'] > 0
    for key in ('PCK', 'OracleId', 'PCK_occluded'):
        assert online[f'kplink/{key}'] == pytest.approx(offline[key])
    # target by target: the offline names put every keypoint where the online ones did
    import numpy as np
    from kplink_mm.evaluation.dump import pck_records_from_dump
    from kplink_mm.evaluation.functional import rename_record
    from kplink_mm.models.utils import ViewpointNaming
    records = pck_records_from_dump(dump)
    naming = ViewpointNaming(sigma=0.15, facing_weight=0.5)
    same = [np.allclose(rename_record(r, naming)['pred_keypoints'], r['pred_keypoints'],
                        atol=1e-3) for r in records]
    assert np.mean(same) >= 0.98, f'{sum(same)} of {len(same)} targets named alike'
    # a bad --viewpoint argument is a clear error, not a traceback
    with pytest.raises(SystemExit, match='sigma must be > 0'):
        run_tool(EVAL_DUMP, [dump, '--naming', 'viewpoint', '--viewpoint', '{"sigma": 0}'])

    # The learned peak-set naming, trained on this dump's peaks: tools/test.py with the
    # set config (same checkpoint) gives what eval_pck_dump.py --naming set gives; also
    # for a namer with context inputs, which online reads the box and the image border
    # mapped into the crop, and offline the dump's box and ori_shape; and with a
    # "no keypoint" penalty set in the config online and on the command line offline.
    # The context case also lets each keypoint take its likeliest peak
    # (keypoint_choice='probability', in the config and on the command line), and names
    # with both namers as an ensemble, each target seen in a mirror too (mirror_test).
    namers = []
    for name, flags, penalty, choice, ensemble_mirror in (
            ('peak_naming', [], 0.0, 'feature', False),
            ('context_naming', ['--context-inputs'], 2.0, 'probability', True)):
        namer = str(tmp_path / f'{name}.pth')
        out = run_tool('tools/train_peak_naming.py',
                       [dump, '--out', namer, '--epochs', '3', '--eval', dump] + flags)
        assert 'peak-set naming: PCK' in out
        namers.append(namer)
        checkpoints = namers if ensemble_mirror else [namer]
        set_work = str(tmp_path / f'test_{name}')
        _run([osp.join(REPO, 'tools/test.py'), SET_CONFIG, osp.join(work, 'epoch_1.pth'),
              '--work-dir', set_work, '--cfg-options'] + opts +
             [f'model.head.peak_naming.checkpoint=[{",".join(checkpoints)}]'
              if ensemble_mirror else f'model.head.peak_naming.checkpoint={namer}',
              f'model.head.peak_naming.no_keypoint_penalty={penalty}',
              f'model.head.peak_naming.mirror_test={ensemble_mirror}',
              f'model.head.keypoint_choice={choice}'], cwd=str(tmp_path),
             env=subprocess_env)
        with open(glob.glob(osp.join(set_work, '*', '*.json'))[0]) as f:
            online_set = json.load(f)
        offline_set_json = str(tmp_path / f'offline_{name}.json')
        run_tool(EVAL_DUMP, [dump, '--naming', 'set', '--peak-naming', ','.join(checkpoints),
                             '--json', offline_set_json, '--no-keypoint-penalty', str(penalty),
                             '--keypoint-choice', choice] +
                 (['--mirror-test'] if ensemble_mirror else []))
        with open(offline_set_json) as f:
            offline_set = json.load(f)
        for key in ('PCK', 'OracleId', 'PCK_occluded'):
            assert online_set[f'kplink/{key}'] == pytest.approx(offline_set[key], abs=1e-3)
    with pytest.raises(SystemExit, match='no.pth: not a peak-naming checkpoint'):
        run_tool(EVAL_DUMP, [dump, '--naming', 'set', '--peak-naming', tmp_path / 'no.pth'])

"""tools/analysis/val_curves.py: validation curves of several runs from their mmengine
work dirs, the mean over seeds of a model, ratios to a baseline; bad input is named."""
import json
import os.path as osp
import re
import runpy
import subprocess

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools/analysis/val_curves.py')
STUDY = osp.join(REPO, 'tools/analysis/gpu_schedule_study.sh')
M = ['coco/bbox_mAP', 'coco/bbox_mAP_50']


def _work_dir(root, name, records, timestamp='20261204_000000'):
    """An mmengine-like work dir: training records (no metric) and validations."""
    vis = root / name / timestamp / 'vis_data'
    vis.mkdir(parents=True, exist_ok=True)
    with open(vis / 'scalars.json', 'a') as f:
        f.write(json.dumps({'loss': 1.0, 'epoch': 1, 'iter': 10, 'step': 10}) + '\n')
        for step, ap, ap50 in records:
            f.write(json.dumps({'coco/bbox_mAP': ap, 'coco/bbox_mAP_50': ap50,
                                'data_time': 0.1, 'step': step}) + '\n')
    return str(root / name)


def test_curves_final_values_seed_means_and_ratios(tmp_path, capsys):
    tool = runpy.run_path(TOOL)
    a0 = _work_dir(tmp_path, 'a0', [(4, 0.2, 0.4), (8, 0.4, 0.8)])
    a1 = _work_dir(tmp_path, 'a1', [(4, 0.1, 0.3), (8, 0.2, 0.6)])
    b = _work_dir(tmp_path, 'b', [(4, 0.3, 0.5), (8, 0.6, 0.7)])
    code = tool['main']([f'A#0={a0}', f'A#1={a1}', f'B={b}', '--metrics'] + M +
                        ['--baseline', 'B', '--scale', '100'])
    assert code == 0
    out = capsys.readouterr().out
    # one curve per run, the first metric at every validation
    assert re.search(r'A#0\s+20\.000\s+40\.000', out)
    assert re.search(r'B\s+30\.000\s+60\.000', out)
    # the mean over A's two seeds with their range: AP (40+20)/2, AP50 (80+60)/2
    assert re.search(r'A \(n=2\)\s+30\.000 \(20\.000\.\.40\.000\)\s+70\.000 \(60\.000\.\.80\.000\)',
                     out)
    # ratios of the means to B's: 30/60 and 70/70
    assert re.search(r'ratios of the means to \'B\'\nA\s+0\.500x\s+1\.000x', out)


def test_a_resumed_run_is_one_curve_and_a_revalidated_step_is_replaced(tmp_path, capsys):
    tool = runpy.run_path(TOOL)
    run = _work_dir(tmp_path, 'r', [(4, 0.1, 0.2), (8, 0.2, 0.3)], '20261204_000000')
    _work_dir(tmp_path, 'r', [(8, 0.25, 0.35), (12, 0.3, 0.4)], '20261205_000000')
    steps = tool['read_validations'](run, M)
    assert [s for s, _ in steps] == [4, 8, 12]
    assert steps[1][1] == {'coco/bbox_mAP': 0.25, 'coco/bbox_mAP_50': 0.35}
    assert tool['main']([f'r={run}']) == 0
    # the last validation is the resumed run's step 12
    assert re.search(r'^r\s+12\s+0\.300\s+0\.400\s+-$', capsys.readouterr().out, re.M)


def test_a_run_without_validation_is_listed_not_averaged(tmp_path, capsys):
    tool = runpy.run_path(TOOL)
    done = _work_dir(tmp_path, 'done', [(4, 0.2, 0.4)])
    stopped = _work_dir(tmp_path, 'stopped', [])
    assert tool['main']([f'done={done}', f'stopped={stopped}', '--baseline', 'stopped']) == 0
    out = capsys.readouterr().out
    assert re.search(r'stopped\s+-\s+\(no validation logged\)', out)
    assert "no ratios: the baseline 'stopped' logged no validation" in out


@pytest.mark.parametrize('argv, message', [
    (['nonsense'], "run 'nonsense': expected NAME=WORK_DIR"),
    (['a={d}', 'a={d}'], "run name 'a' given twice"),
    (['a={d}', '--baseline', 'x'], "--baseline 'x' is not one of the models ['a']"),
    (['a={missing}'], 'no */vis_data/scalars.json'),
    (['a={broken}'], 'scalars.json:2: not JSON'),
])
def test_bad_input_is_named(argv, message, tmp_path, capsys):
    tool = runpy.run_path(TOOL)
    d = _work_dir(tmp_path, 'd', [(1, 0.1, 0.2)])
    broken = _work_dir(tmp_path, 'broken', [])
    with open(osp.join(broken, '20261204_000000/vis_data/scalars.json'), 'a') as f:
        f.write('{"coco/bbox_mAP": 0.1, \n')
    argv = [a.format(d=d, missing=str(tmp_path / 'missing'), broken=broken) for a in argv]
    assert tool['main'](argv) == 1
    assert message in capsys.readouterr().err


def test_gpu_schedule_study_parses_names_existing_configs_and_refuses_unknown_runs(tmp_path):
    """The study needs a GPU for ~40 min; here: its syntax, that every config it trains
    exists, and that an unknown run name is refused before anything is made."""
    assert_parses_and_names_existing_configs = runpy.run_path(osp.join(
        osp.dirname(__file__), 'script_checks.py'))['assert_parses_and_names_existing_configs']
    assert_parses_and_names_existing_configs(STUDY, 7)
    out = tmp_path / 'study'
    proc = subprocess.run(['bash', STUDY, str(out)], capture_output=True, text=True,
                          env={'RUNS': 'dpad6k12e dpad6k#1 dpad42', 'PATH': '/usr/bin:/bin'})
    assert proc.returncode == 2
    assert "RUNS: unknown run 'dpad42'" in proc.stderr
    assert not out.exists()


def test_gpu_schedule_study_launches_every_run_it_knows():
    """Each name RUNS accepts has its own `launch` line (a known name without one would
    be accepted and then silently train nothing); the default is a subset of them."""
    import re
    with open(STUDY) as f:
        text = f.read()
    default = re.search(r'^DEFAULT="([^"]*)"', text, re.M).group(1).split()
    extra = re.search(r'^KNOWN="\$DEFAULT([^"]*)"', text, re.M).group(1).split()
    launched = re.findall(r"^launch '?([\w#]+)'? ", text, re.M)
    assert sorted(launched) == sorted(default + extra)
    assert len(set(launched)) == len(launched)
    assert {'dpad6k#1', 'pafpn6k#1', 'dpad6k12e'} <= set(extra)

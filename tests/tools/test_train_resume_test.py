"""tools/train.py saves a checkpoint that --resume, tools/test.py and init_model load.

Runs the real tools as subprocesses, from a foreign working directory, on a tiny
kplink-synth split: the path a user takes, including torch>=2.6's weights_only load.
"""
import json
import os.path as osp
import pickle
import subprocess
import sys

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/baselines/topdown-heatmap_res18_kplink-synth-128x128.py')


def _run(args, cwd, env):
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout + proc.stderr


def _scalars(work_dir):
    import glob
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    assert files, f'no scalars.json under {work_dir}'
    rows = []
    for f in files:
        with open(f) as fh:
            rows += [json.loads(line) for line in fh if line.strip()]
    return rows


def test_train_resume_test_init_model(tiny_synth, tiny_pose_cfg_options, tmp_path,
                                      subprocess_env):
    work = str(tmp_path / 'work')
    opts = tiny_pose_cfg_options(tiny_synth)
    train = osp.join(REPO, 'tools/train.py')
    # cwd is a temp dir: nothing may depend on the current directory.
    _run([train, CONFIG, '--work-dir', work, '--cfg-options'] + opts,
         cwd=str(tmp_path), env=subprocess_env)
    ckpt1 = osp.join(work, 'epoch_1.pth')
    assert osp.isfile(ckpt1)

    out = _run([train, CONFIG, '--work-dir', work, '--resume', ckpt1, '--cfg-options'] +
               opts + ['train_cfg.max_epochs=2'], cwd=str(tmp_path), env=subprocess_env)
    assert 'resumed epoch: 1' in out, out[-3000:]
    ckpt2 = osp.join(work, 'epoch_2.pth')
    assert osp.isfile(ckpt2)
    train_rows = [r for r in _scalars(work) if 'loss' in r]
    assert {r['epoch'] for r in train_rows} >= {1, 2}
    assert all(r['loss'] == r['loss'] for r in train_rows)  # finite, not NaN

    dump = str(tmp_path / 'preds.pkl')
    out = _run([osp.join(REPO, 'tools/test.py'), CONFIG, ckpt2, '--work-dir',
                str(tmp_path / 'test'), '--dump', dump, '--cfg-options'] + opts,
               cwd=str(tmp_path), env=subprocess_env)
    assert 'PCK' in out
    with open(dump, 'rb') as fh:
        preds = pickle.load(fh)
    assert len(preds) > 0 and 'pred_instances' in preds[0]

    # The top-down inference API loads the same checkpoint.
    code = (
        'import sys; sys.path.insert(0, %r)\n'
        'import kplink_mm\n'
        'from mmpose.apis import init_model\n'
        'from mmengine.config import Config\n'
        'cfg = Config.fromfile(%r)\n'
        'm = init_model(cfg, %r, device="cpu")\n'
        'print("META", sorted(m.dataset_meta)[:3])\n') % (REPO, CONFIG, ckpt2)
    out = _run(['-c', code], cwd=str(tmp_path), env=subprocess_env)
    assert 'META' in out

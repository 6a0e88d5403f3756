"""tools/dist_train.sh (torchrun) trains with 2 CPU processes (gloo) and writes one checkpoint."""
import glob
import os
import os.path as osp
import socket
import subprocess

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/baselines/topdown-heatmap_res18_kplink-synth-128x128.py')


def _free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_dist_train_two_cpu_ranks(tiny_synth, tiny_pose_cfg_options, tmp_path,
                                  subprocess_env):
    work = str(tmp_path / 'work')
    here = osp.dirname(osp.abspath(__file__))
    env = dict(subprocess_env, PORT=str(_free_port()),
               KPLINK_RANK_MARKER_DIR=str(tmp_path / 'ranks'))
    env['PYTHONPATH'] = here + os.pathsep + env['PYTHONPATH']
    config = tmp_path / 'dist_cfg.py'
    config.write_text(
        f'_base_ = [{CONFIG!r}]\n'
        "custom_imports = dict(imports=['kplink_mm', 'rank_marker_hook'],\n"
        '                      allow_failed_imports=False)\n'
        "custom_hooks = [dict(type='RankFinishedMarkerHook')]\n")
    proc = subprocess.run(
        ['bash', osp.join(REPO, 'tools/dist_train.sh'), str(config), '2', '--work-dir',
         work, '--cfg-options'] + tiny_pose_cfg_options(tiny_synth),
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    # Both ranks reached the end of training ...
    assert sorted(os.listdir(tmp_path / 'ranks')) == ['rank0_of_2', 'rank1_of_2']
    # ... and the checkpoint was written once (by rank 0).
    assert [osp.basename(p) for p in glob.glob(osp.join(work, '*.pth'))] == ['epoch_1.pth']

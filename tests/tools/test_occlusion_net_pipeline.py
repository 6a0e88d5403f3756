"""Occlusion-Net end to end with the tools: stage 1 (keypoint model) -> stage 2 (graphs,
direct and trifocal) -> occlusion_benchmark.py (tools/test.py --dump per model) ->
plot_occlusion_curves.py on its dumps; and the VisPredictHead baseline config trains and
is scored by the same metric."""
import os.path as osp
import subprocess
import sys

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CFG = osp.join(REPO, 'configs')
STAGE1 = osp.join(CFG, 'occlusion_net/heatmap-visible_res18_cpu_kplink-synth-128x128.py')
STAGE2 = osp.join(CFG, 'occlusion_net/occlusion-net_res18_cpu_kplink-synth-mv-128x128.py')
VISPRED = osp.join(CFG, 'baselines/topdown-heatmap-vispred_res18_cpu_kplink-synth-128x128.py')


def _run(args, env, cwd):
    proc = subprocess.run([sys.executable] + args, cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return proc.stdout + proc.stderr


@pytest.fixture(scope='module')
def stage1_checkpoint(tiny_synth_mv, tiny_pose_cfg_options, tmp_path_factory,
                      subprocess_env):
    work = str(tmp_path_factory.mktemp('occ_stage1'))
    _run([osp.join(REPO, 'tools/train.py'), STAGE1, '--work-dir', work, '--cfg-options',
          'train_dataloader.dataset.ann_file=annotations/mv_train.json',
          *tiny_pose_cfg_options(tiny_synth_mv)], subprocess_env, work)
    return osp.join(work, 'epoch_1.pth')


@pytest.fixture(scope='module')
def bases(tmp_path_factory):
    # the first stage-2 run builds the PCA shape bases here; the second reuses them
    return str(tmp_path_factory.mktemp('bases') / 'shape_basis.npz')


@pytest.fixture(scope='module')
def stage2(stage1_checkpoint, tiny_synth_mv, tiny_pose_cfg_options, bases,
           tmp_path_factory, subprocess_env):
    """Train stage 2 once per supervision mode; returns (log, checkpoint, cfg-options)."""
    runs = {}

    def run(supervision):
        if supervision not in runs:
            work = str(tmp_path_factory.mktemp(f'occ_{supervision}'))
            opts = [*tiny_pose_cfg_options(tiny_synth_mv), f'load_from={stage1_checkpoint}',
                    f'model.supervision={supervision}', f'model.kgnn3d.shape_bases={bases}']
            out = _run([osp.join(REPO, 'tools/train.py'), STAGE2, '--work-dir', work,
                        '--cfg-options', *opts], subprocess_env, work)
            runs[supervision] = (out, osp.join(work, 'epoch_1.pth'), opts)
        return runs[supervision]
    return run


@pytest.fixture(scope='module')
def benchmark(stage2, tmp_path_factory, run_tool):
    """occlusion_benchmark.py on both stage-2 models (its tools/test.py --dump runs are
    the dumps the per-model tests plot); returns (table, work dir)."""
    _, direct, opts = stage2('direct')
    _, trifocal, _ = stage2('trifocal')
    data_opts = [o for o in opts if o.startswith(('val_', 'test_'))] + \
        [o for o in opts if o.startswith('model.kgnn3d')]
    work = str(tmp_path_factory.mktemp('occ_bench'))
    table = run_tool('tools/analysis/occlusion_benchmark.py',
                     ['--model', f'direct={STAGE2}:{direct}',
                      '--model', f'trifocal={STAGE2}:{trifocal}',
                      '--noise', '0.05', '--work-dir', work, '--cfg-options', *data_opts])
    return table, work


@pytest.mark.parametrize('supervision', ['direct', 'trifocal'])
def test_stage2_trains_tests_and_plots(stage2, benchmark, tmp_path, supervision, run_tool):
    out, _, _ = stage2(supervision)
    loss_key = 'loss_location' if supervision == 'direct' else 'loss_trifocal'
    assert loss_key in out and 'occ/final/PCK@0.1' in out and 'occ/AUC/encoder' in out
    # the keypoint model came from stage 1
    assert 'Load checkpoint from' in out
    # the benchmark's tools/test.py --dump of this model
    dump = osp.join(benchmark[1], f'{supervision}.pkl')
    figs = str(tmp_path / 'figs')
    table = run_tool('tools/analysis/plot_occlusion_curves.py', [dump, '--out-dir', figs])
    for name in ('pck_curves.png', 'pck_vs_invisible.png', 'roc.png'):
        assert osp.getsize(osp.join(figs, name)) > 1000
    assert 'AUC' in table


def test_benchmark_table_puts_models_side_by_side(benchmark):
    table = benchmark[0]
    lines = table.splitlines()
    for model in ('direct', 'trifocal'):
        for point_set in ('heatmap (init)', '2D-KGNN', '3D-KGNN'):
            assert any(line.startswith(model) and point_set in line for line in lines), \
                (model, point_set, table)
    assert 'trifocal / direct gain ratio' in table or 'gain of the 2D-KGNN' in table
    assert any(line.split()[:2] == ['direct', '0.05'] for line in lines), table


def test_vispredict_baseline_is_scored_as_a_learned_visibility(tiny_synth_mv,
                                                               tiny_pose_cfg_options,
                                                               tmp_path, subprocess_env):
    work = str(tmp_path / 'work')
    out = _run([osp.join(REPO, 'tools/train.py'), VISPRED, '--work-dir', work,
                '--cfg-options', 'train_dataloader.dataset.ann_file=annotations/mv_train.json',
                *tiny_pose_cfg_options(tiny_synth_mv)], subprocess_env, str(tmp_path))
    assert 'loss_vis' in out and 'occ/AUC/encoder' in out and 'occ/AUC/heatmap' in out

"""tools/analysis/train_speed.py: real training and validation steps of a config,
timed, one row per (config, precision); a failing phase is a row's status and the
exit code, not a crash; bad arguments are named."""
import json
import os.path as osp
import runpy

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(REPO, 'tools/analysis/train_speed.py')
CONFIG = osp.join(REPO, 'configs/cklm/cklm-1s_res18_cpu_kplink-synth-128x128.py')


def _options(data_root):
    return [f'train_dataloader.dataset.data_root={data_root}',
            f'val_dataloader.dataset.data_root={data_root}',
            'train_dataloader.batch_size=4', 'val_dataloader.batch_size=4',
            'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
            'train_dataloader.persistent_workers=False',
            'val_dataloader.persistent_workers=False']


def test_rows_time_real_steps_and_run_the_metric(tiny_synth, tmp_path, capsys,
                                                 one_torch_thread):
    tool = runpy.run_path(TOOL)
    out_json = tmp_path / 'rows.json'
    code = tool['main']([CONFIG, '--device', 'cpu', '--iters', '2', '--warmup', '1',
                         '--val-batches', '1', '--json', str(out_json),
                         '--cfg-options'] + _options(tiny_synth))
    assert code == 0
    printed = capsys.readouterr().out
    assert 'device: cpu' in printed
    assert '| cklm-1s_res18_cpu_kplink-synth-128x128 | fp32 |' in printed
    (row, ) = json.loads(out_json.read_text())
    assert row['status'] == 'ok'
    assert row['batch'] == 4 and row['s_per_iter'] > 0
    assert row['img_per_s'] == pytest.approx(4 / row['s_per_iter'])
    assert row['first_nonfinite_step'] is None and row['loss_first'] > 0
    # the config's iteration-based warm-up stepped after each of the 3 steps
    assert row['lr_first'] < row['lr_last'] < 1e-3
    assert row['peak_mem_gib'] is None  # CPU: no device memory counter
    assert row['infer_img_per_s'] > 0
    # the config's own metric ran on the validation batch
    assert any('PCK' in k for k in row['metrics'])


def test_a_failing_phase_is_reported_and_sets_the_exit_code(tiny_synth, capsys):
    tool = runpy.run_path(TOOL)
    code = tool['main']([CONFIG, '--device', 'cpu', '--iters', '1', '--warmup', '0',
                         '--val-batches', '0', '--cfg-options'] + _options(tiny_synth) +
                        ['optim_wrapper.optimizer.lr=-1'])
    assert code == 1
    captured = capsys.readouterr()
    assert 'train failed: ValueError: Invalid learning rate: -1' in captured.out
    assert 'Traceback' in captured.err


@pytest.mark.parametrize('argv, message', [
    (['configs/missing.py'], 'config configs/missing.py does not exist'),
    ([CONFIG, '--device', 'cpu', '--precision', 'amp'], 'needs a CUDA device'),
    ([CONFIG, '--iters', '0'], '--iters must be >= 1'),
])
def test_bad_arguments_are_named(argv, message, capsys):
    tool = runpy.run_path(TOOL)
    with pytest.raises(SystemExit):
        tool['main'](argv)
    assert message in capsys.readouterr().err


def test_amp_speedup_line_compares_the_same_config():
    tool = runpy.run_path(TOOL)
    rows = [dict(config='a', precision='fp32', status='ok', s_per_iter=0.4),
            dict(config='a', precision='amp', status='ok', s_per_iter=0.2),
            dict(config='b', precision='amp', status='train failed: X')]
    import io
    from contextlib import redirect_stdout
    buf = io.StringIO()
    with redirect_stdout(buf):
        tool['print_table'](rows)
    text = buf.getvalue()
    assert 'a: AMP train step 2.00x the speed of fp32' in text
    assert 'b: AMP' not in text and '| b | amp |' in text


def test_gpu_check_script_parses_and_names_existing_configs():
    """tools/analysis/gpu_check.sh needs a GPU to run; here: its syntax, and that
    every config it checks exists (a renamed config must not silently drop out)."""
    assert_parses_and_names_existing_configs = runpy.run_path(osp.join(
        osp.dirname(__file__), 'script_checks.py'))['assert_parses_and_names_existing_configs']
    assert_parses_and_names_existing_configs(osp.join(REPO, 'tools/analysis/gpu_check.sh'), 7)


@pytest.mark.parametrize('args, message', [
    ([], 'usage: tools/build_gpu_wheels.sh OUT_DIR'),
    (['OUT', '/no/such/python3.12'], '/no/such/python3.12 does not run'),
])
def test_build_gpu_wheels_names_bad_arguments(args, message, tmp_path):
    """tools/build_gpu_wheels.sh needs the network and ~15 min; here: its syntax and
    that a missing argument or a python that does not run is named before any work."""
    import subprocess
    script = osp.join(REPO, 'tools/build_gpu_wheels.sh')
    subprocess.run(['bash', '-n', script], check=True)
    args = [str(tmp_path / a) if a == 'OUT' else a for a in args]
    proc = subprocess.run(['bash', script] + args, capture_output=True, text=True)
    assert proc.returncode != 0
    assert message in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing was made

"""Shared fixtures: tiny kplink-synth datasets generated in seconds per session."""
import os
import os.path as osp
import sys

import pytest

REPO_ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if REPO_ROOT not in sys.path:
    sys.path.insert(0, REPO_ROOT)


@pytest.fixture(scope='session')
def tiny_synth(tmp_path_factory):
    """A data root with small `train` and `val` splits (single view, 128x128)."""
    from kplink_mm.datasets.synth.generator import generate_split
    root = str(tmp_path_factory.mktemp('kplink_synth'))
    for split, scenes, seed in (('train', 12, 0), ('val', 6, 1)):
        generate_split(root, split, num_scenes=scenes, views=1, seed=seed,
                       image_size=(128, 128), workers=1, progress=False)
    return root


@pytest.fixture(scope='session')
def tiny_synth_mv(tmp_path_factory):
    """A data root with small multi-view splits (3 views): `mv_train`, `mv_val` and the
    cars-only `mv_car`."""
    from kplink_mm.datasets.synth.generator import generate_split
    root = str(tmp_path_factory.mktemp('kplink_synth_mv'))
    for split, scenes, seed, cats in (('mv_train', 4, 0, None), ('mv_val', 2, 1, None),
                                      ('mv_car', 2, 2, ['car'])):
        generate_split(root, split, num_scenes=scenes, views=3, seed=seed,
                       image_size=(128, 128), categories=cats, workers=1, progress=False)
    return root


@pytest.fixture(scope='session')
def tiny_pose_cfg_options():
    """cfg-options (list of key=value) that shrink a pose config to seconds."""
    return _tiny_pose_cfg_options


def _tiny_pose_cfg_options(data_root):
    opts = [
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        'train_dataloader.batch_size=8', 'val_dataloader.batch_size=8',
        'test_dataloader.batch_size=8',
        'train_dataloader.num_workers=0', 'val_dataloader.num_workers=0',
        'test_dataloader.num_workers=0',
        'train_dataloader.persistent_workers=False',
        'val_dataloader.persistent_workers=False',
        'test_dataloader.persistent_workers=False',
        'train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
        'default_hooks.logger.interval=1',
    ]
    return opts


@pytest.fixture
def one_torch_thread():
    """Run a test with one intra-op thread: on tiny tensors the thread pool only adds
    contention (measured 8x slower on a busy 2-core machine)."""
    import torch
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope='session')
def run_tool():
    """Run a tool's ``main(argv)`` in this process and return what it printed.

    For the analysis tools (dump scoring, plots, benchmarks, the namer's fitting): as a
    child process each pays ~6 s of imports on a 2-core machine that this process has
    already paid. ``tools/train.py`` and ``tools/test.py`` stay child processes, as users
    run them (one Runner per process). A failing tool raises as it would in ``main``.
    """
    import contextlib
    import io
    import runpy
    from unittest import mock

    import torch

    def run(tool, argv):
        main = runpy.run_path(osp.join(REPO_ROOT, tool))['main']
        out, err = io.StringIO(), io.StringIO()
        # a tool may set torch's threads and seed for its own process: keep them here;
        # the child processes it starts (tools/test.py) see subprocess_env's settings
        threads = torch.get_num_threads()
        try:
            with torch.random.fork_rng(devices=[]), mock.patch.dict(os.environ, _child_env()), \
                    contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                main([str(a) for a in argv])
        finally:
            torch.set_num_threads(threads)
        return out.getvalue() + err.getvalue()
    return run


def _child_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    return env


@pytest.fixture(scope='session')
def subprocess_env():
    """The environment of a tool's child process: this repo importable, one OpenMP thread
    (session-wide, so module fixtures that train can use it too: copy it before changing it)."""
    return _child_env()

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


@pytest.fixture
def subprocess_env():
    env = dict(os.environ)
    env['PYTHONPATH'] = REPO_ROOT + os.pathsep + env.get('PYTHONPATH', '')
    env.setdefault('OMP_NUM_THREADS', '1')
    return env

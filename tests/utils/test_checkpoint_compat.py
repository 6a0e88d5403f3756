"""Checkpoints with mmengine's meta load under torch's weights_only default."""
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

MAKE_CKPT = textwrap.dedent('''
    import numpy as np, torch
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer(); buf.update(np.float64(0.5)); buf.update(1.0)
    ckpt = dict(
        state_dict=dict(w=torch.ones(2)),
        meta=dict(dataset_meta=dict(sigmas=np.array([0.1, 0.2], dtype=np.float32),
                                    flip_indices=[1, 0],
                                    counts=np.arange(3, dtype=np.int64)),
                  message_hub=dict(log_scalars=dict(loss=buf),
                                   runtime_info=dict(epoch=np.int64(3), lr=np.float32(0.1)))))
    torch.save(ckpt, PATH)
''')


@pytest.fixture
def ckpt_path(tmp_path):
    path = str(tmp_path / 'ckpt.pth')
    subprocess.run([sys.executable, '-c', f'PATH = {path!r}\n' + MAKE_CKPT], check=True)
    return path


def test_plain_torch_load_fails_without_the_shim(ckpt_path):
    """The problem the shim solves is real on this torch (guards against a no-op shim)."""
    proc = subprocess.run(
        [sys.executable, '-c', f'import torch; torch.load({ckpt_path!r})'],
        capture_output=True, text=True)
    assert proc.returncode != 0 and 'Weights only load failed' in proc.stderr


def test_shim_loads_mmengine_meta_with_weights_only(ckpt_path):
    import kplink_mm  # noqa: F401  (registers the allow-list)
    from mmengine.runner.checkpoint import _load_checkpoint
    ckpt = _load_checkpoint(ckpt_path, map_location='cpu')
    meta = ckpt['meta']
    np.testing.assert_allclose(meta['dataset_meta']['sigmas'], [0.1, 0.2])
    assert meta['message_hub']['log_scalars']['loss'].mean() == pytest.approx(0.75)
    assert int(meta['message_hub']['runtime_info']['epoch']) == 3
    torch.testing.assert_close(ckpt['state_dict']['w'], torch.ones(2))


def test_shim_still_refuses_arbitrary_objects(tmp_path):
    import kplink_mm  # noqa: F401
    path = str(tmp_path / 'evil.pth')
    torch.save({'x': subprocess.Popen}, path)  # a global that is not plain data
    with pytest.raises(Exception, match='Weights only load failed'):
        torch.load(path)


class _SneakyGetattr:
    """Pickles as getattr(HistoryBuffer, '__init__'): not a statistics method."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, '__init__')


def test_getattr_stand_in_serves_only_history_buffer_statistics(tmp_path):
    import kplink_mm  # noqa: F401
    path = str(tmp_path / 'sneaky.pth')
    torch.save({'x': _SneakyGetattr()}, path)
    with pytest.raises(Exception, match="getattr.*'__init__'"):
        torch.load(path)

"""Make checkpoints saved by mmengine's Runner load again on torch >= 2.6.

torch >= 2.6 defaults to `torch.load(weights_only=True)`; mmengine 0.10.7 calls
`torch.load` without `weights_only`, and every checkpoint a training run saves holds
numpy arrays/scalars (dataset_meta, message hub) and mmengine's HistoryBuffer in its
meta, so `--resume`, `tools/test.py CKPT` and `init_model(cfg, ckpt)` fail with
"Weights only load failed".

The fix is as narrow as torch allows: `weights_only` stays True (no arbitrary code
runs from a checkpoint) and only the few plain-data types that mmengine writes are
added to torch's allow-list. Anything else still fails with torch's own message.
"""
import pickle

import numpy as np
import torch


def _numpy_globals():
    # numpy moved `core` to `_core` in 2.0; pickles name whichever wrote them.
    names = []
    for mod_name in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        try:
            mod = __import__(mod_name, fromlist=['_reconstruct', 'scalar'])
        except ImportError:
            continue
        names += [(mod._reconstruct, f'{mod_name}._reconstruct'),
                  (mod.scalar, f'{mod_name}.scalar')]
    dtype_classes = [type(np.dtype(t)) for t in (
        np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64,
        np.uint8, np.uint16, np.uint32, np.uint64, np.bool_)]
    return names, [np.ndarray, np.dtype] + dtype_classes


_HISTORY_BUFFER_STATISTICS = frozenset({'min', 'max', 'current', 'mean'})


def _history_buffer_getattr(obj, name):
    """Stands in for `getattr` while unpickling, and only for HistoryBuffer.

    HistoryBuffer keeps its statistics methods (`HistoryBuffer.min`, `.max`, `.mean`,
    ...) in a `statistics_methods` dict; pickle stores each as
    `getattr(HistoryBuffer, 'min')`.
    Allowing the real builtin would let a checkpoint reach any attribute of any
    allowed object, so only those statistics names on a HistoryBuffer are served.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    is_buffer = obj is HistoryBuffer or isinstance(obj, HistoryBuffer)
    # The registry of statistics fills only when a buffer is constructed, which
    # unpickling never does, hence the built-in names.
    allowed = _HISTORY_BUFFER_STATISTICS | set(HistoryBuffer._statistics_methods)
    if is_buffer and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only '
        'HistoryBuffer statistics methods are allowed by kplink_mm')


def _mmengine_globals():
    from mmengine.logging.history_buffer import HistoryBuffer
    named = [(_history_buffer_getattr, f'{mod}.getattr') for mod in ('builtins', '__builtin__')]
    return named, [HistoryBuffer]


def _collect():
    named, plain = _numpy_globals()
    mm_named, mm_plain = _mmengine_globals()
    return named + mm_named, plain + mm_plain


_registered = False
CHECKPOINT_SAFE_GLOBALS = []


def register_checkpoint_safe_globals() -> None:
    """Add mmengine's checkpoint meta types to torch's weights_only allow-list.

    Idempotent; a no-op on torch versions without `add_safe_globals`.
    """
    global _registered
    if _registered or not hasattr(torch.serialization, 'add_safe_globals'):
        return
    named, plain = _collect()
    # Functions are registered under the module path the pickle names, so both the
    # numpy<2 and numpy>=2 spellings of `_reconstruct` / `scalar` resolve.
    torch.serialization.add_safe_globals([(fn, name) for fn, name in named] + plain)
    CHECKPOINT_SAFE_GLOBALS[:] = [name for _, name in named] + [
        f'{t.__module__}.{t.__qualname__}' for t in plain]
    _registered = True

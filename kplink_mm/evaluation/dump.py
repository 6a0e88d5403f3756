"""Read a ``tools/test.py --dump`` file into metric records, naming what is wrong.

The offline tools (``tools/analysis/eval_pck_dump.py``, ``naming_benchmark.py``,
``calibrate_link_thresholds.py``, ``tools/train_peak_naming.py``) recompute metrics
from the dumped samples; this is their one reader, so a bad file gets the same message
from all of them.
"""
import pickle
from functools import partial
from typing import Callable, List, Sequence

from ..datasets.metainfo import category_slices
from .metrics.category_pck import record_from_sample


def records_from_dump(path: str, to_record: Callable[[dict], dict],
                      required: Sequence[str] = ()) -> List[dict]:
    """``[to_record(sample) for sample in pickle.load(path)]``.

    Args:
        path (str): the dump.
        to_record (callable): a metric's ``record_from_sample`` (slices bound).
        required (Sequence[str]): keys every sample must have.

    Raises:
        ValueError: the file cannot be read or holds no samples, a sample lacks a
            required key, or ``to_record`` rejects it (KeyError / ValueError); the
            message names the file and the sample index.
    """
    try:
        with open(path, 'rb') as f:
            samples = pickle.load(f)
    except (OSError, pickle.UnpicklingError, EOFError) as err:
        raise ValueError(f'cannot read dump {path}: {err}') from None
    if not samples:
        raise ValueError(f'{path} holds no predictions')
    records = []
    for i, sample in enumerate(samples):
        missing = [k for k in required if k not in sample]
        if missing:
            raise ValueError(f"{path}: sample {i} lacks {'/'.join(missing)}; was it "
                             'written by tools/test.py --dump?')
        try:
            records.append(to_record(sample))
        except (KeyError, ValueError) as err:
            raise ValueError(f'{path}: sample {i}: {err}') from None
    return records


def pck_records_from_dump(path: str) -> List[dict]:
    """``CategoryPCKMetric``'s records of a keypoint dump (every sample must hold
    predictions and ground truth); errors as :func:`records_from_dump`."""
    return records_from_dump(path, partial(record_from_sample, slices=category_slices()),
                             required=('pred_instances', 'gt_instances'))

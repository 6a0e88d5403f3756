"""Where the keypoints of overlapping same-category targets go wrong.

LIS (KLPNet §3.3.4) can only repair one kind of error: a crop that names a peak of
*another* overlapping instance as its own keypoint. This module counts how often
that happens, next to the errors LIS cannot touch (a peak of the right instance
given the wrong name, a keypoint with no prediction), so the ceiling of any LIS on a
given model is measured rather than guessed.

Every visible ground-truth keypoint ``k`` of a target in an overlap group falls in
exactly one class (first match wins, thresholds are PCK's ``alpha * max(w, h)`` of
the target being scored):

``hit``            the prediction for ``k`` is within the threshold of the target's
                   own keypoint ``k``;
``missing``        no prediction (score at or below ``score_thr``);
``other_instance`` the prediction lies on a labelled keypoint of another target of
                   the group (any slot): the error LIS exists for;
``misnamed``       it lies on another labelled keypoint of the same target;
``elsewhere``      anything else (background, a wrong peak).

``recoverable`` counts the non-hits for which some peak *of the target's own crop*
is within the threshold of the ground truth: what a re-assignment of the crop's
peaks could reach at best (``OracleId`` restricted to these keypoints).
"""
from collections import Counter
from typing import Dict, Sequence

import numpy as np

from .identification import pck_hits

ERROR_CLASSES = ('hit', 'missing', 'other_instance', 'misnamed', 'elsewhere')


def _labelled(record: dict) -> np.ndarray:
    return np.asarray(record['states']).reshape(-1) > 0


def _threshold(record: dict, alpha: float) -> float:
    x1, y1, x2, y2 = np.asarray(record['bbox'], np.float64).reshape(4)
    return alpha * max(x2 - x1, y2 - y1)


def classify_overlap_errors(records: Sequence[dict], groups: Sequence[Sequence[int]],
                            alpha: float = 0.1, score_thr: float = 0.0
                            ) -> Dict[str, int]:
    """Count the classes above over the visible keypoints of the grouped targets.

    Args:
        records: `category_pck.record_from_sample` records (``gt_keypoints``,
            ``states``, ``bbox``, ``pred_keypoints``, ``pred_scores``; ``peaks`` and
            ``peak_scores`` for ``recoverable``).
        groups: lists of record indices (``category_pck.overlap_groups``).
        alpha (float): PCK threshold as a fraction of max(bbox w, h).
        score_thr (float): predictions at or below are missing.

    Returns:
        dict: a count per `ERROR_CLASSES` entry, ``recoverable`` and ``total``.
    """
    counts = Counter({name: 0 for name in ERROR_CLASSES + ('recoverable', 'total')})
    for group in groups:
        for i in group:
            rec = records[i]
            thr = _threshold(rec, alpha)
            gt = np.asarray(rec['gt_keypoints'], np.float64)
            own = _labelled(rec)
            others = [np.asarray(records[j]['gt_keypoints'], np.float64)[_labelled(records[j])]
                      for j in group if j != i]
            others = np.concatenate(others) if others else np.zeros((0, 2))
            peaks = np.asarray(rec.get('peaks', np.zeros((0, 2))), np.float64).reshape(-1, 2)
            pscores = np.asarray(rec.get('peak_scores', np.zeros(len(peaks)))).reshape(-1)
            peaks = peaks[pscores > score_thr]
            pred = np.asarray(rec['pred_keypoints'], np.float64)
            found = np.asarray(rec['pred_scores']).reshape(-1) > score_thr
            hits = pck_hits(pred, gt, rec['bbox'], alpha, found)  # the metric's rule
            for k in np.flatnonzero(np.asarray(rec['states']).reshape(-1) == 2):
                counts['total'] += 1
                if hits[k]:
                    counts['hit'] += 1
                    continue
                if len(peaks) and np.linalg.norm(peaks - gt[k], axis=1).min() < thr:
                    counts['recoverable'] += 1
                if not found[k]:
                    counts['missing'] += 1
                elif len(others) and np.linalg.norm(others - pred[k], axis=1).min() < thr:
                    counts['other_instance'] += 1
                else:
                    mine = own.copy()
                    mine[k] = False
                    d = np.linalg.norm(gt[mine] - pred[k], axis=1)
                    counts['misnamed' if len(d) and d.min() < thr else 'elsewhere'] += 1
    return dict(counts)

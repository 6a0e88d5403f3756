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


CLAIM_OUTCOMES = ('one_right', 'both_right', 'none_right')


def claim_collisions(records: Sequence[dict], groups: Sequence[Sequence[int]],
                     alpha: float = 0.1, score_thr: float = 0.0,
                     merge_radius: float = 0.03) -> Dict[str, object]:
    """Count the peaks that two overlapping crops both named, and who owns them.

    This is the only case LIS's ``keep_crop_naming`` settles (a named peak claimed by
    one target stays fixed), so it says how much a claim rule can win, and which
    signal picks the owner: the crop's peak score (``claim_score_weight``) or its
    naming confidence (``claim_name_weight``).

    A collision is a pair of found named keypoints, slot ``a`` of target ``i`` and
    slot ``b`` of target ``j`` of one group, closer than ``merge_radius * min(s_i,
    s_j)`` (``s`` = max(bbox w, h), LIS's merge rule). A claimant is right when its
    slot is a visible ground-truth keypoint and the prediction is a PCK hit for it.

    Args:
        records: `category_pck.record_from_sample` records; ``pred_name_scores``
            (optional) is the naming's confidence per slot.
        groups: lists of record indices (``category_pck.overlap_groups``).
        alpha (float): PCK threshold as a fraction of max(bbox w, h).
        score_thr (float): predictions at or below are not claims.
        merge_radius (float): collision distance in box units.

    Returns:
        dict: ``collisions`` and a count per `CLAIM_OUTCOMES` entry; of the
        ``one_right`` ones, ``score_picks_owner`` (the owner has the strictly higher
        ``pred_scores``) and ``name_picks_owner`` (strictly higher
        ``pred_name_scores``; None when a record lacks them).
    """
    if not (np.isfinite(merge_radius) and merge_radius >= 0):
        raise ValueError(f'merge_radius: expected a finite number >= 0, got {merge_radius!r}')
    counts = dict(collisions=0, score_picks_owner=0, name_picks_owner=0,
                  **{name: 0 for name in CLAIM_OUTCOMES})
    have_names = True
    for group in groups:
        pred, found, right, sizes = {}, {}, {}, {}
        for i in group:
            rec = records[i]
            pred[i] = np.asarray(rec['pred_keypoints'], np.float64)
            found[i] = np.asarray(rec['pred_scores']).reshape(-1) > score_thr
            visible = np.asarray(rec['states']).reshape(-1) == 2
            right[i] = visible & pck_hits(pred[i], np.asarray(rec['gt_keypoints'], np.float64),
                                          rec['bbox'], alpha, found[i])
            sizes[i] = _threshold(rec, 1.0)  # max(bbox w, h)
            have_names &= 'pred_name_scores' in rec
        for x, i in enumerate(group):
            for j in group[x + 1:]:
                d = np.linalg.norm(pred[i][:, None] - pred[j][None], axis=2)
                close = (d < merge_radius * min(sizes[i], sizes[j])) \
                    & found[i][:, None] & found[j][None]
                for a, b in zip(*np.nonzero(close)):
                    counts['collisions'] += 1
                    ri, rj = bool(right[i][a]), bool(right[j][b])
                    if ri and rj:
                        counts['both_right'] += 1
                        continue
                    if not (ri or rj):
                        counts['none_right'] += 1
                        continue
                    counts['one_right'] += 1
                    # (owner, slot), (borrower, slot)
                    (o, so), (w, sw) = ((i, a), (j, b)) if ri else ((j, b), (i, a))
                    counts['score_picks_owner'] += int(
                        np.asarray(records[o]['pred_scores']).reshape(-1)[so]
                        > np.asarray(records[w]['pred_scores']).reshape(-1)[sw])
                    if have_names:
                        counts['name_picks_owner'] += int(
                            np.asarray(records[o]['pred_name_scores']).reshape(-1)[so]
                            > np.asarray(records[w]['pred_name_scores']).reshape(-1)[sw])
    if not have_names:
        counts['name_picks_owner'] = None
    return counts

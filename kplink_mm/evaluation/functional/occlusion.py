"""Occlusion-aware keypoint evaluation in numpy (Occlusion-Net, Reddy et al. 2019, Sec. 4.2).

* `normalized_errors` / `pck_curve`: PCK(alpha) curves, the error normalised by
  max(bbox w, h) (Fig. 5/8);
* `roc_curve` / `roc_auc`: occluded-vs-visible classification (Fig. 3), written in
  numpy (no scikit-learn); tied scores form one ROC step, so the area equals the
  Mann-Whitney statistic P(s_pos > s_neg) + 0.5 P(s_pos == s_neg);
* `group_by_num_invisible`: occlusion bins of instances (Fig. 5/6/8/9).
"""
from typing import List, Optional, Sequence, Tuple

import numpy as np

# Upper bin edges (see `group_by_num_invisible`).
FRACTION_EDGES = (0.0, 0.25, 0.5, 0.75)
COUNT_EDGES = (0, 2, 4, 6)


def normalized_errors(pred: np.ndarray, gt: np.ndarray, bbox_xyxy: np.ndarray) -> np.ndarray:
    """Euclidean error of each keypoint over max(bbox w, h): (N, 2), (N, 2) -> (N,).

    The normaliser is the one of `pck_hits`. A degenerate box (size <= 0) gives
    infinite errors (every keypoint a miss); a non-finite prediction gives NaN, which
    `pck_curve` counts as a miss.
    """
    x1, y1, x2, y2 = np.asarray(bbox_xyxy, dtype=np.float64).reshape(4)
    size = max(x2 - x1, y2 - y1)
    err = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)
    if not size > 0:
        return np.where(np.isnan(err), np.nan, np.inf)
    return err / size


def pck_curve(errors_norm: np.ndarray, alphas: Sequence[float],
              inclusive: bool = True) -> np.ndarray:
    """Fraction of keypoints whose normalised error is within each alpha.

    Args:
        errors_norm (np.ndarray): normalised errors (any shape, flattened); NaN or inf
            (no usable prediction) count as misses.
        alphas (Sequence[float]): thresholds.
        inclusive (bool): ``error <= alpha`` (default) or ``error < alpha``, the
            convention of `pck_hits` (the two differ only on exact ties).

    Returns:
        np.ndarray: (len(alphas),) float64; all NaN when there is no error to count.
    """
    errors = np.sort(np.asarray(errors_norm, np.float64).ravel())  # NaN sorts last
    alphas = np.asarray(alphas, np.float64).ravel()
    if errors.size == 0:
        return np.full(alphas.shape, np.nan)
    side = 'right' if inclusive else 'left'
    return np.searchsorted(errors, alphas, side=side) / errors.size


def _scores_labels(scores, labels) -> Tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, np.float64).ravel()
    labels = np.asarray(labels).ravel()
    if scores.shape != labels.shape:
        raise ValueError(f'scores ({scores.size}) and labels ({labels.size}) differ in '
                         'length')
    if not np.isfinite(scores).all():
        raise ValueError(f'{int((~np.isfinite(scores)).sum())} of {scores.size} scores are '
                         'not finite')
    return scores, labels.astype(bool)


def roc_curve(scores: np.ndarray, labels: np.ndarray):
    """ROC of "positive iff score >= threshold" over every distinct threshold.

    Args:
        scores (np.ndarray): (N,) finite scores, higher = more positive.
        labels (np.ndarray): (N,) bool (or 0/1) ground truth, True = positive.

    Returns:
        tuple: ``fpr``, ``tpr``, ``thresholds`` (M + 1,) for M distinct scores; the
        first point is (0, 0) at threshold +inf, the thresholds then decrease and the
        last point is (1, 1). Tied scores form a single point (one diagonal step).
        With no positive (negative) sample `tpr` (`fpr`) is all NaN; empty input gives
        one NaN point.
    """
    scores, labels = _scores_labels(scores, labels)
    if scores.size == 0:
        return np.array([np.nan]), np.array([np.nan]), np.array([np.inf])
    order = np.argsort(-scores, kind='mergesort')
    s, y = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # last index of each tie group
    tps = np.r_[0, np.cumsum(y)[last]].astype(np.float64)
    fps = np.r_[0, last + 1].astype(np.float64) - tps
    num_pos, num_neg = tps[-1], fps[-1]
    tpr = tps / num_pos if num_pos > 0 else np.full(tps.shape, np.nan)
    fpr = fps / num_neg if num_neg > 0 else np.full(fps.shape, np.nan)
    return fpr, tpr, np.r_[np.inf, s[last]]


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under `roc_curve` (trapezoids); NaN when one class is absent.

    Equals the Mann-Whitney U statistic / (#pos * #neg): a positive-negative pair
    counts 1 when the positive scores higher and 0.5 when they tie.
    """
    fpr, tpr, _ = roc_curve(scores, labels)
    if np.isnan(fpr).any() or np.isnan(tpr).any():
        return float('nan')
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


def _bin_labels(edges: Sequence[float], mode: str) -> List[str]:
    labels = []
    for j, hi in enumerate(edges):
        lo = edges[j - 1] if j else None
        if mode == 'count':
            hi = int(hi)
            first = 0 if lo is None else int(lo) + 1
            labels.append(str(hi) if first == hi else f'{first}-{hi}')
        elif lo is None:
            labels.append(f'<={100 * hi:g}%' if hi > 0 else '0%')
        else:
            labels.append(f'{100 * lo:g}-{100 * hi:g}%')
    last = edges[-1]
    labels.append(f'{int(last) + 1}+' if mode == 'count' else f'>{100 * last:g}%')
    return labels


def group_by_num_invisible(num_invisible: Sequence[int],
                           num_keypoints: Optional[Sequence[int]] = None,
                           mode: str = 'fraction',
                           edges: Optional[Sequence[float]] = None):
    """Occlusion bin of every instance from its number of occluded keypoints.

    Categories have different keypoint counts (7-12 in kplink-synth), so the default
    bins the *fraction* of the category's keypoints that are occluded; ``mode='count'``
    bins the absolute number, as the paper does for 12-keypoint cars.

    Bins, for increasing upper edges ``e_0 < e_1 < ... < e_m``: ``x <= e_0``, then
    ``e_{j-1} < x <= e_j``, then ``x > e_m``. The defaults give
      * fraction ``(0, .25, .5, .75)``: '0%', '0-25%', '25-50%', '50-75%', '>75%'
        (e.g. 3/12 occluded -> '0-25%', 4/12 -> '25-50%');
      * count ``(0, 2, 4, 6)``: '0', '1-2', '3-4', '5-6', '7+'.

    Args:
        num_invisible (Sequence[int]): (B,) occluded keypoints per instance.
        num_keypoints (Sequence[int], optional): (B,) the category's keypoint count
            per instance; required for ``mode='fraction'``.
        mode (str): ``'fraction'`` or ``'count'``.
        edges (Sequence[float], optional): increasing upper bin edges (fractions in
            [0, 1] or counts).

    Returns:
        tuple: the bin labels (list of str, in order) and the bin index of every
        instance ((B,) int64).
    """
    if mode not in ('fraction', 'count'):
        raise ValueError(f"mode must be 'fraction' or 'count', got {mode!r}")
    if edges is None:
        edges = FRACTION_EDGES if mode == 'fraction' else COUNT_EDGES
    edges = [float(e) for e in edges]
    if not edges or any(b <= a for a, b in zip(edges, edges[1:])):
        raise ValueError(f'edges must be non-empty and strictly increasing, got {edges}')
    x = np.asarray(num_invisible, np.float64).ravel()
    if mode == 'fraction':
        if num_keypoints is None:
            raise ValueError("mode='fraction' needs num_keypoints (the category's count)")
        n = np.asarray(num_keypoints, np.float64).ravel()
        if n.shape != x.shape:
            raise ValueError(f'num_invisible ({x.size}) and num_keypoints ({n.size}) '
                             'differ in length')
        if (n <= 0).any():
            raise ValueError('num_keypoints must be positive')
        x = x / n
    index = np.searchsorted(np.asarray(edges), x, side='left').astype(np.int64)
    return _bin_labels(edges, mode), index

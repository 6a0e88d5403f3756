"""Link (skeleton edge) prediction evaluation in numpy (KLPNet §3.3, Fig. 5d).

A link predictor scores candidate pairs of a target's keypoints; a pair is a true
link when both endpoints are known keypoints of the category, are labelled, and are
joined in the category skeleton.

* `link_scores_per_pair`: candidate pairs + scores -> (scores, labels), a pair's
  label read from the **names** of its two nodes;
* `match_nodes_to_keypoints` + `position_link_labels`: the label read from **where**
  the two nodes lie (each node takes the labelled ground-truth keypoint nearest to
  it within a PCK radius); a misnamed node is then scored by the keypoint it sits
  on, so a link drawn between two physically joined keypoints counts as true
  whatever the nodes were called;
* `roc_auc` (from `occlusion.py`: tied scores form one ROC step, so the area is the
  Mann-Whitney statistic) and `average_precision` (step-wise area under the
  precision-recall curve, sklearn's ``average_precision_score``);
* `precision_recall_f1` at a score threshold;
* `occlusion_level`: 'none' / 'slight' / 'heavy' from an instance's keypoint states;
* `weight_links_by_name_scores`: link scores times the naming's confidence in the two
  names (``KLPNet(test_cfg.link_name_score_power)``).

No scikit-learn: everything is written against numpy.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from .occlusion import _scores_labels, roc_auc

__all__ = ['OCCLUSION_LEVELS', 'SLIGHT_OCCLUSION_MAX', 'average_precision',
           'link_endpoints', 'link_scores_per_pair', 'match_nodes_to_keypoints',
           'occlusion_level',
           'name_score_weights', 'position_link_labels', 'precision_recall_f1',
           'roc_auc', 'weight_links_by_name_scores']

OCCLUSION_LEVELS = ('none', 'slight', 'heavy')
# An instance with an occluded fraction in (0, 0.3] is 'slight', above it 'heavy'.
SLIGHT_OCCLUSION_MAX = 0.3


def link_scores_per_pair(pairs: Optional[np.ndarray], scores: np.ndarray,
                         skeleton: Sequence[Tuple[int, int]],
                         labelled: Optional[np.ndarray] = None
                         ) -> Tuple[np.ndarray, np.ndarray]:
    """Scores and ground-truth labels of candidate keypoint pairs.

    Args:
        pairs (np.ndarray, optional): ``(M, 2)`` keypoint indices of the candidate
            pairs (the category's own 0-based keypoint order); -1 marks a node of
            unknown identity. Order within a pair does not matter. None: ``scores``
            is a dense ``(N, N)`` matrix and the candidates are all pairs ``i < j``.
        scores (np.ndarray): ``(M,)`` finite link scores (higher = more likely a
            link), or the ``(N, N)`` matrix.
        skeleton (Sequence[tuple]): the category's links ``(a, b)``.
        labelled (np.ndarray, optional): ``(N_c,)`` bool per keypoint; a pair with
            an unlabelled endpoint (e.g. outside the image) is no true link.

    Returns:
        tuple: ``scores`` (M,) float64 and ``labels`` (M,) bool. A pair is a link iff
        both indices are >= 0, differ, are labelled and ``{a, b}`` is in the
        skeleton; every other candidate is a negative.
    """
    scores = np.asarray(scores, np.float64)
    if pairs is None:
        if scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
            raise ValueError(f'without pairs, scores must be a square (N, N) matrix; got '
                             f'shape {scores.shape}')
        i, j = np.triu_indices(scores.shape[0], 1)
        pairs, scores = np.stack([i, j], 1), scores[i, j]
    pairs = np.asarray(pairs)
    if pairs.ndim != 2 or pairs.shape[1] != 2 or \
            (pairs.size and not np.issubdtype(pairs.dtype, np.integer)
             and not np.array_equal(pairs, np.round(pairs))):
        raise ValueError(f'pairs must be (M, 2) integer keypoint indices; got shape '
                         f'{pairs.shape}, dtype {pairs.dtype}')
    pairs = pairs.astype(np.int64)
    if scores.shape != (len(pairs),):
        raise ValueError(f'scores has shape {scores.shape}; expected ({len(pairs)},), one '
                         'per pair')
    scores, _ = _scores_labels(scores, np.zeros(len(scores), bool))  # finiteness check
    links = {(min(a, b), max(a, b)) for a, b in skeleton}
    a, b = pairs.min(1), pairs.max(1)
    labels = np.array([(int(x), int(y)) in links for x, y in zip(a, b)], bool)
    labels &= (a >= 0) & (a != b)
    if labelled is not None:
        labelled = np.asarray(labelled, bool).reshape(-1)
        inside = (b < len(labelled)) & (a >= 0)
        ok = np.zeros(len(pairs), bool)
        ok[inside] = labelled[a[inside]] & labelled[b[inside]]
        labels &= ok
    return scores, labels


def link_endpoints(peaks: np.ndarray, peak_pairs: np.ndarray) -> np.ndarray:
    """``(M, 2, 2)`` positions of each pair's two nodes from the peak each one is
    (``peak_pairs`` (M, 2), -1: no peak, which gives NaN)."""
    peaks = np.asarray(peaks, np.float64).reshape(-1, 2)
    index = np.asarray(peak_pairs, np.int64).reshape(-1, 2)
    ends = np.full(index.shape + (2,), np.nan)
    ends[index >= 0] = peaks[index[index >= 0]]
    return ends


def match_nodes_to_keypoints(nodes: np.ndarray, keypoints: np.ndarray,
                             labelled: np.ndarray, radius: float) -> np.ndarray:
    """The ground-truth keypoint each node lies on.

    Args:
        nodes (np.ndarray): ``(N, 2)`` node positions.
        keypoints (np.ndarray): ``(K, 2)`` the target's ground-truth keypoints, in
            the same frame.
        labelled (np.ndarray): ``(K,)`` bool; unlabelled keypoints take no node.
        radius (float): a node not closer than this to any labelled keypoint
            lies on none (PCK's ``alpha * max(bbox w, h)``, strict as in PCK).

    Returns:
        np.ndarray: ``(N,)`` int64, the index of the nearest labelled keypoint
        closer than ``radius`` (ties: the lower index), else -1. Several nodes may lie on
        one keypoint: each is judged on its own, as a drawn line would be.
    """
    nodes = np.asarray(nodes, np.float64).reshape(-1, 2)
    keypoints = np.asarray(keypoints, np.float64).reshape(-1, 2)
    labelled = np.asarray(labelled, bool).reshape(-1)
    if labelled.shape != (len(keypoints),):
        raise ValueError(f'labelled has {labelled.size} values for {len(keypoints)} '
                         'keypoints')
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f'radius must be finite and >= 0, got {radius}')
    out = np.full(len(nodes), -1, np.int64)
    if not len(nodes) or not labelled.any():
        return out
    dist = np.linalg.norm(nodes[:, None] - keypoints[None], axis=-1)
    dist[:, ~labelled] = np.inf
    dist[~np.isfinite(dist)] = np.inf  # a NaN node lies on nothing
    best = dist.argmin(1)
    near = dist[np.arange(len(nodes)), best] < radius
    out[near] = best[near]
    return out


def position_link_labels(endpoints: np.ndarray, keypoints: np.ndarray,
                         labelled: np.ndarray, skeleton: Sequence[Tuple[int, int]],
                         radius: float) -> Tuple[np.ndarray, np.ndarray]:
    """Labels of candidate pairs from where their endpoints lie.

    Args:
        endpoints (np.ndarray): ``(M, 2, 2)`` the two nodes' positions of each pair
            (NaN: a node with no position, which lies on nothing).
        keypoints, labelled, radius: see `match_nodes_to_keypoints`.
        skeleton (Sequence[tuple]): the category's links.

    Returns:
        tuple: ``labels`` (M,) bool, true iff the two nodes lie on two different
        keypoints joined in the skeleton; ``pairs`` (M, 2) int64 the keypoints they
        lie on (-1: none).
    """
    endpoints = np.asarray(endpoints, np.float64)
    if endpoints.size == 0:
        endpoints = endpoints.reshape(0, 2, 2)
    if endpoints.ndim != 3 or endpoints.shape[1:] != (2, 2):
        raise ValueError(f'endpoints must be (M, 2, 2) positions; got shape '
                         f'{endpoints.shape}')
    on = match_nodes_to_keypoints(endpoints.reshape(-1, 2), keypoints, labelled,
                                  radius).reshape(-1, 2)
    _, labels = link_scores_per_pair(on, np.zeros(len(on)), skeleton)
    return labels, on


def average_precision(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the precision-recall curve, step-wise (sklearn's
    ``average_precision_score``): ``AP = sum_k (R_k - R_(k-1)) P_k`` over the
    distinct score thresholds in decreasing order, tied scores forming one step.

    Returns NaN when there is no positive (recall undefined).
    """
    scores, labels = _scores_labels(scores, labels)
    num_pos = int(labels.sum())
    if num_pos == 0:
        return float('nan')
    order = np.argsort(-scores, kind='mergesort')
    s, y = scores[order], labels[order]
    last = np.r_[np.nonzero(np.diff(s))[0], s.size - 1]  # last index of each tie group
    tps = np.cumsum(y)[last].astype(np.float64)
    precision = tps / (last + 1)
    recall = tps / num_pos
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def precision_recall_f1(scores: np.ndarray, labels: np.ndarray,
                        threshold: float = 0.5) -> Tuple[float, float, float]:
    """Precision, recall and F1 of "link iff score >= threshold".

    A ratio with a zero denominator is 0 (sklearn's ``zero_division=0``): no
    predicted link -> precision 0, no true link -> recall 0, P = R = 0 -> F1 0.
    """
    scores, labels = _scores_labels(scores, labels)
    pred = scores >= threshold
    tp = float(np.sum(pred & labels))
    fp = float(np.sum(pred & ~labels))
    fn = float(np.sum(~pred & labels))
    precision = tp / (tp + fp) if tp + fp > 0 else 0.0
    recall = tp / (tp + fn) if tp + fn > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def occlusion_level(states: np.ndarray, slight_max: float = SLIGHT_OCCLUSION_MAX) -> str:
    """Occlusion level of an instance from its keypoint states.

    Args:
        states (np.ndarray): the category's keypoint states (0 outside the image,
            1 occluded, 2 visible).
        slight_max (float): largest occluded fraction still called 'slight'.

    Returns:
        str: with f = #occluded / #labelled (states 1 or 2): 'none' for f == 0,
        'slight' for 0 < f <= slight_max, 'heavy' for f > slight_max. An instance
        without labelled keypoints is 'none' (nothing is occluded).
    """
    states = np.asarray(states).reshape(-1)
    labelled = int(np.isin(states, (1, 2)).sum())
    if labelled == 0:
        return 'none'
    fraction = float((states == 1).sum()) / labelled
    if fraction == 0:
        return 'none'
    return 'slight' if fraction <= slight_max else 'heavy'


def weight_links_by_name_scores(link_pairs: np.ndarray, link_scores: np.ndarray,
                                name_scores: np.ndarray, power: float) -> np.ndarray:
    """``link_scores * (q_a q_b) ** power``: the CLPGM's p(link | the two nodes are
    the keypoints they are named) times how sure the naming is of both names.

    The CLPGM links by name (it is trained on ground-truth nodes), so a peak named
    for a keypoint that is not there (a false or misnamed peak) gets the skeleton's
    links with near-certain scores; the naming's confidence q (the set namer's
    p(keypoint | peak set), ``keypoint_name_scores``) orders those links below the
    ones between surely named nodes. Measured in docs/benchmarks.md (2026-12-07).

    Args:
        link_pairs: ``(1, M, 2)`` or ``(M, 2)`` union slots, -1 unknown (q = 0).
        link_scores: ``(1, M)`` or ``(M,)``.
        name_scores: ``(1, K)`` or ``(K,)`` per union slot, in [0, 1].
        power (float): gamma >= 0; 0 leaves the scores as they are.

    Returns:
        np.ndarray: the weighted scores, shaped like ``link_scores`` (float32).
    """
    scores = np.asarray(link_scores, np.float32)
    weight = name_score_weights(link_pairs, name_scores, power)
    if len(weight) != scores.size:
        raise ValueError(f'{len(weight)} link pairs but {scores.size} link scores')
    if power == 0:
        return scores
    return (scores.reshape(-1) * weight).astype(np.float32).reshape(scores.shape)


def name_score_weights(link_pairs: np.ndarray, name_scores: np.ndarray,
                       power: float) -> np.ndarray:
    """``(q_a q_b) ** power`` per pair (M,) float32, the factor of
    `weight_links_by_name_scores` (arguments as there; an unknown slot has q = 0)."""
    if not power >= 0:
        raise ValueError(f'link_name_score_power must be >= 0, got {power}')
    pairs = np.asarray(link_pairs, np.int64).reshape(-1, 2)
    q = np.asarray(name_scores, np.float32).reshape(-1)
    if pairs.size and pairs.max() >= len(q):
        raise ValueError(f'link pair slot {pairs.max()} outside the {len(q)} name scores')
    qa = np.where(pairs[:, 0] >= 0, q[np.clip(pairs[:, 0], 0, None)], 0.0)
    qb = np.where(pairs[:, 1] >= 0, q[np.clip(pairs[:, 1], 0, None)], 0.0)
    return (np.clip(qa * qb, 0.0, 1.0) ** power).astype(np.float32)

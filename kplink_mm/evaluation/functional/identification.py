"""Keypoint identification for category-implicit predictions (StarMap's protocol).

A category-implicit head finds peaks without names. Keypoint i of category c takes
the peak whose predicted canonical feature is nearest to the category's canonical
position of i ("PCK"); the oracle variant gives each ground-truth keypoint the peak
nearest to it in the image ("OracleId"), which factors identification out.
"""
import numpy as np


def identify_keypoints(peaks: np.ndarray, scores: np.ndarray, features: np.ndarray,
                       canonical: np.ndarray, score_thr: float = 0.0):
    """Name peaks by nearest canonical feature.

    Args:
        peaks (np.ndarray): (P, 2) peak locations.
        scores (np.ndarray): (P,) peak confidences; padding has score 0.
        features (np.ndarray): (P, D) predicted canonical features of the peaks.
        canonical (np.ndarray): (N, D) the category's canonical keypoint features.
        score_thr (float): peaks at or below this score are not candidates.

    Returns:
        tuple: keypoints (N, 2), scores (N,) (0 where no candidate exists), and the
        chosen peak index per keypoint (N,) (-1 where none).
    """
    canonical = np.asarray(canonical, dtype=np.float32)
    N = len(canonical)
    valid = np.asarray(scores) > score_thr
    out_kpts = np.zeros((N, 2), dtype=np.float32)
    out_scores = np.zeros(N, dtype=np.float32)
    chosen = np.full(N, -1, dtype=np.int64)
    if not valid.any():
        return out_kpts, out_scores, chosen
    idx = np.nonzero(valid)[0]
    dist = np.linalg.norm(canonical[:, None, :] - np.asarray(features)[None, idx], axis=-1)
    best = idx[dist.argmin(axis=1)]
    return np.asarray(peaks)[best].astype(np.float32), np.asarray(scores)[best], best


KEYPOINT_CHOICES = ('feature', 'probability')


def check_keypoint_choice(keypoint_choice: str) -> str:
    """``keypoint_choice`` if it is one of :data:`KEYPOINT_CHOICES`, else ValueError
    naming the value (the head and ``rename_record`` take the same choices)."""
    if keypoint_choice not in KEYPOINT_CHOICES:
        raise ValueError(f'keypoint_choice must be one of {KEYPOINT_CHOICES}, got '
                         f'{keypoint_choice!r}')
    return keypoint_choice


def identify_keypoints_by_probability(peaks: np.ndarray, scores: np.ndarray,
                                      name_probs: np.ndarray, score_thr: float = 0.0):
    """Name peaks by the highest p(keypoint | peak): StarMap's protocol for a head whose
    canonical "feature" is a distribution over the category's keypoints.

    Keypoint i takes the candidate peak nearest to the one-hot of i in the divergence
    KL(one-hot(i) || p(. | peak)) = -log p(i | peak), i.e. the peak most likely to be
    i. As in :func:`identify_keypoints`, each keypoint chooses on its own, so two
    keypoints may take one peak (two keypoints within one PCK radius often leave a
    single peak; a one-to-one naming must then send one of them elsewhere).

    Args:
        peaks (np.ndarray): (P, 2) peak locations.
        scores (np.ndarray): (P,) peak confidences; padding has score 0.
        name_probs (np.ndarray): (M, N) p(keypoint | peak) of the first M peaks (the
            decoded ones; rows beyond M are not candidates).
        score_thr (float): peaks at or below this score are not candidates.

    Returns:
        tuple: keypoints (N, 2), scores (N,) (0 where no candidate exists), and the
        chosen peak index per keypoint (N,) (-1 where none).
    """
    name_probs = np.asarray(name_probs, np.float64)
    if name_probs.ndim != 2:
        raise ValueError(f'name_probs: expected (M, N) probabilities, got shape '
                         f'{name_probs.shape}')
    m, n = name_probs.shape
    scores = np.asarray(scores).reshape(-1)
    if m > len(scores):
        raise ValueError(f'name_probs has {m} rows for {len(scores)} peaks')
    out_kpts = np.zeros((n, 2), dtype=np.float32)
    out_scores = np.zeros(n, dtype=np.float32)
    chosen = np.full(n, -1, dtype=np.int64)
    idx = np.nonzero(scores[:m] > score_thr)[0]
    if not len(idx):
        return out_kpts, out_scores, chosen
    best = idx[name_probs[idx].argmax(axis=0)]
    return np.asarray(peaks)[best].astype(np.float32), scores[best].astype(np.float32), best


def slot_name_scores(chosen: np.ndarray, name_probs: np.ndarray) -> np.ndarray:
    """(N,) how sure the naming was of each keypoint's name: ``name_probs[chosen[i],
    i]``, the probability it gave keypoint i for the peak identified as i
    (``identify_keypoints``' third output), 0 where none was.

    Args:
        chosen (np.ndarray): (N,) peak index per keypoint, -1 where none.
        name_probs (np.ndarray): (M, N) p(keypoint | peak) of the naming used: the
            head's own for the one-to-one and viewpoint namings, the set namer's for
            the learned set naming. A peak index >= M (padding) scores 0.
    """
    chosen = np.asarray(chosen).reshape(-1)
    name_probs = np.asarray(name_probs, np.float32)
    if name_probs.size == 0:
        name_probs = name_probs.reshape(0, len(chosen))
    if name_probs.ndim != 2 or name_probs.shape[1] != len(chosen):
        raise ValueError(f'name_probs: expected (M, {len(chosen)}) probabilities, one '
                         f'column per keypoint, got shape {name_probs.shape}')
    out = np.zeros(len(chosen), np.float32)
    ok = (chosen >= 0) & (chosen < len(name_probs))
    out[ok] = name_probs[chosen[ok], np.nonzero(ok)[0]]
    return out


def oracle_identify(peaks: np.ndarray, scores: np.ndarray, gt_keypoints: np.ndarray,
                    score_thr: float = 0.0):
    """Give every ground-truth keypoint (N, 2) the candidate peak nearest to it."""
    N = len(gt_keypoints)
    valid = np.asarray(scores) > score_thr
    if not valid.any():
        return np.zeros((N, 2), np.float32), np.zeros(N, bool)
    cand = np.asarray(peaks)[valid]
    d = np.linalg.norm(np.asarray(gt_keypoints)[:, None] - cand[None], axis=-1)
    return cand[d.argmin(axis=1)].astype(np.float32), np.ones(N, bool)


def pck_radius(bbox_xyxy: np.ndarray, alpha: float = 0.1) -> float:
    """PCK's threshold: ``alpha * max(bbox w, h)``."""
    x1, y1, x2, y2 = np.asarray(bbox_xyxy, dtype=np.float64)
    return alpha * max(x2 - x1, y2 - y1)


def pck_hits(pred: np.ndarray, gt: np.ndarray, bbox_xyxy: np.ndarray, alpha: float = 0.1,
             found: np.ndarray = None) -> np.ndarray:
    """Per keypoint: is the error below alpha * max(bbox w, h)? (N,) bool.

    Keypoints without a prediction (`found` False) are misses.
    """
    thr = pck_radius(bbox_xyxy, alpha)
    err = np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(gt, np.float64), axis=-1)
    hits = err < thr
    if found is not None:
        hits &= np.asarray(found, bool)
    return hits

"""Location Instability Strategy (LIS) of KLPNet (§3.3.4, Fig. 5), in numpy.

CKLM puts every keypoint of a top-down target crop into ONE category-implicit
heatmap. When several targets of the same category overlap, a crop also shows peaks
of the other instances, so the peaks of the K overlapping crops must be pooled and
shared out: every target gets at most ``N_c`` peaks (one per keypoint slot of its
category), every peak goes to at most one target, and whatever is left is an outlier.

The paper gives the ingredients, not an algorithm:

* "fixed nodes" (red/yellow in Fig. 5b) are peaks that certainly belong to one
  target; the "debatable" ones (white) lie in the overlap;
* keypoints of one category "share similar features" (here: the predicted canonical
  identity feature, StarMap-style, see ``identification.py``);
* a node's distance to certain fixed nodes "should not change greatly among targets
  with the same category label" (here: per category and keypoint pair, the mean and
  std of the distance divided by the target's box size, :class:`PairDistanceModel`);
* the node count per target equals the category's keypoint count; the rest are
  outliers (Fig. 5c).

How this module fills the gaps (all documented in :class:`LocationInstabilityAssigner`):

1. **Candidates.** Peaks with ``score > score_thr`` (CKLM pads with score 0).
   Duplicates of one physical peak seen from two overlapping crops are merged first
   (:func:`merge_duplicate_peaks`).
2. **Fixed nodes.** A peak inside exactly one (margin-expanded) target box whose
   identity is confident -- it and slot ``i`` are mutual nearest neighbours in
   canonical-feature space (:func:`identify_keypoints` both ways) and its feature
   cost is below ``fixed_feature_thr`` -- is fixed to ``(target, i)``. So is a peak
   in several boxes whose confident slot ``i`` is still free in exactly one of them,
   and a peak that snaps to a keypoint the caller already named for a target.
3. **Ambiguous nodes.** Every other candidate is scored against every free slot
   ``(k, i)``: ``feature_weight * ||f - c_i||^2 / (2 feature_sigma^2)`` (identity
   similarity) ``+ distance_weight * mean_j min(z_ij^2, z_clip^2) / 2`` with
   ``z_ij = (||x - a_kj|| / s_k - mu_ij) / sigma_ij`` over the fixed nodes
   ``a_kj`` of target ``k`` (distance stability) ``+ box_weight * (d_out /
   (box_sigma s_k))^2 / 2`` (distance outside the target's box). One linear
   assignment (``scipy.optimize.linear_sum_assignment``; a documented greedy when
   scipy is missing) with one "outlier" column per peak at cost ``outlier_thr``
   gives each slot at most one peak and each peak at most one slot; a peak whose
   cheapest option costs more than ``outlier_thr`` becomes an outlier.
4. **Refinement** (``refine_iters``, not in the paper). The assignment is re-solved
   over all candidates with every assigned node as an anchor (leave-one-out), which
   can correct the slot of a fixed node named wrongly from a noisy feature (nodes the
   caller named stay where they are). A step is
   kept only if it lowers the total cost ``sum(assignment costs) + outlier_thr *
   #outliers``, so refinement never makes the solution worse under this objective.

Conventions: boxes are ``(x1, y1, x2, y2)`` in the same pixels as the peaks; a box's
size is ``max(w, h)`` (the PCK normaliser); identity features are the category's
canonical 3D keypoints in ``[-0.5, 0.5]`` (``CategorySpec.canonical_keypoints()``).
"""
import json
from dataclasses import dataclass
from typing import (Any, Dict, Iterable, List, Mapping, NamedTuple, Optional, Sequence,
                    Tuple, Union)

import numpy as np

from kplink_mm.datasets.synth.categories import CategorySpec, get_category
from kplink_mm.evaluation.functional.identification import identify_keypoints

try:  # scipy is a dependency of the venv, but keep the module usable without it
    from scipy.optimize import linear_sum_assignment as _scipy_lsa
except ImportError:  # pragma: no cover - exercised through the `_USE_SCIPY` switch
    _scipy_lsa = None

__all__ = ['PairDistanceStats', 'PairDistanceModel', 'LISResult',
           'LocationInstabilityAssigner', 'merge_duplicate_peaks', 'solve_assignment',
           'instances_from_coco']

_USE_SCIPY = _scipy_lsa is not None
_BIG = 1e9  # "forbidden" entry of a cost matrix (finite, so scipy never fails)


# ----------------------------------------------------------------------------------
# input checking
# ----------------------------------------------------------------------------------
def _spec(category) -> CategorySpec:
    try:
        return get_category(category)
    except KeyError as e:
        raise ValueError(f'category: {e.args[0]}') from None


def _array(value, name: str, ndim: int = None, last: int = None, length: int = None,
           dtype=np.float64) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise ValueError(f'{name}: cannot be read as a {np.dtype(dtype).name} array '
                         f'({e})') from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f'{name}: expected a {ndim}-d array, got shape {arr.shape}')
    if last is not None and arr.shape[-1] != last:
        raise ValueError(f'{name}: expected last dimension {last}, got shape {arr.shape}')
    if length is not None and len(arr) != length:
        raise ValueError(f'{name}: expected {length} entries (one per peak/keypoint), '
                         f'got shape {arr.shape}')
    return arr


def _box(value, name: str) -> np.ndarray:
    box = _array(value, name).reshape(-1)
    if box.shape != (4,) or not np.all(np.isfinite(box)):
        raise ValueError(f'{name}: expected 4 finite numbers (x1, y1, x2, y2), got '
                         f'{np.asarray(value).tolist()!r}')
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f'{name}: expected x2 > x1 and y2 > y1 (x1, y1, x2, y2 format), '
                         f'got {box.tolist()}')
    return box


def _box_size(box: np.ndarray) -> float:
    return float(max(box[2] - box[0], box[3] - box[1]))


def _neg_log(p) -> float:
    """-log p of a confidence, floored at 1e-6 so an unseen peak costs ~13.8, not inf."""
    return -float(np.log(max(float(p), 1e-6)))


def _squeeze_batch(arr: np.ndarray, ndim: int) -> np.ndarray:
    """CKLM predictions carry a leading instance axis of 1: (1, P, 2) -> (P, 2)."""
    while arr.ndim > ndim and arr.shape[0] == 1:
        arr = arr[0]
    return arr


# ----------------------------------------------------------------------------------
# distance statistics
# ----------------------------------------------------------------------------------
@dataclass
class PairDistanceStats:
    """Per keypoint pair ``(i, j)`` of one category: mean, std and number of samples
    of ``||x_i - x_j|| / max(box w, h)``. All ``(N_c, N_c)``, symmetric, zero
    diagonal; a pair with fewer than ``min_count`` samples is not used."""
    category: str
    mean: np.ndarray
    std: np.ndarray
    count: np.ndarray
    min_std: float = 0.02
    min_count: int = 5

    @property
    def num_keypoints(self) -> int:
        return len(self.mean)

    @property
    def usable(self) -> np.ndarray:
        """(N, N) bool: pairs with enough samples (diagonal excluded)."""
        ok = self.count >= self.min_count
        np.fill_diagonal(ok, False)
        return ok

    def zscore(self, dist: np.ndarray, i, j) -> np.ndarray:
        """z of normalised distance(s) ``dist`` for pair(s) ``(i, j)`` (broadcast)."""
        std = np.maximum(self.std[i, j], self.min_std)
        return (dist - self.mean[i, j]) / std

    def to_dict(self) -> dict:
        return dict(category=self.category, mean=self.mean.tolist(),
                    std=self.std.tolist(), count=self.count.tolist(),
                    min_std=self.min_std, min_count=self.min_count)

    @classmethod
    def from_dict(cls, d: Mapping) -> 'PairDistanceStats':
        return cls(category=d['category'], mean=np.asarray(d['mean'], np.float64),
                   std=np.asarray(d['std'], np.float64),
                   count=np.asarray(d['count'], np.int64),
                   min_std=float(d.get('min_std', 0.02)),
                   min_count=int(d.get('min_count', 5)))


def _pair_stats(samples: List[Tuple[np.ndarray, np.ndarray]], n: int
                ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean/std/count over (normalised distance matrix, pair mask) samples."""
    s1 = np.zeros((n, n))
    s2 = np.zeros((n, n))
    cnt = np.zeros((n, n), np.int64)
    for d, m in samples:
        s1 += np.where(m, d, 0.0)
        s2 += np.where(m, d * d, 0.0)
        cnt += m
    with np.errstate(invalid='ignore', divide='ignore'):
        mean = np.where(cnt > 0, s1 / np.maximum(cnt, 1), 0.0)
        var = np.where(cnt > 1, (s2 - cnt * mean ** 2) / np.maximum(cnt - 1, 1), 0.0)
    return mean, np.sqrt(np.maximum(var, 0.0)), cnt


class PairDistanceModel:
    """Distance statistics for several categories (``category name -> stats``).

    ``fit`` learns them from ground-truth instances; ``from_canonical`` derives them
    from the category's canonical 3D keypoints seen from many viewpoints. A category
    that was not fitted falls back to ``from_canonical`` (computed lazily, cached)
    when ``fallback_to_canonical`` is True, otherwise asking for it raises.
    """

    def __init__(self, stats: Optional[Mapping[str, PairDistanceStats]] = None,
                 fallback_to_canonical: bool = True):
        self.stats: Dict[str, PairDistanceStats] = dict(stats or {})
        self.fallback_to_canonical = fallback_to_canonical

    def __contains__(self, category) -> bool:
        return _spec(category).name in self.stats

    def __getitem__(self, category) -> PairDistanceStats:
        spec = _spec(category)
        if spec.name not in self.stats:
            if not self.fallback_to_canonical:
                raise KeyError(f'category: no distance statistics for {spec.name!r} '
                               f'(fitted: {sorted(self.stats)})')
            self.stats[spec.name] = self.canonical_stats(spec)
        return self.stats[spec.name]

    # -- learning -------------------------------------------------------------------
    @classmethod
    def fit(cls, instances: Iterable, min_std: float = 0.02, min_count: int = 5,
            fallback_to_canonical: bool = True) -> 'PairDistanceModel':
        """Learn per-category pair-distance statistics from ground truth.

        Args:
            instances (Iterable): ``(category, keypoints (N_c, 2), visible (N_c,),
                box (4,) x1y1x2y2)`` tuples (or mappings with those keys, ``bbox``
                accepted for ``box``); ``category`` is a name or a COCO id. A pair is
                counted when both keypoints are visible (``visible > 0``). Use
                :func:`instances_from_coco` for kplink-synth annotation files.
            min_std (float): floor of the std used for z-scores (box units).
            min_count (int): pairs seen fewer times are ignored at assignment time.
        """
        samples: Dict[str, List[Tuple[np.ndarray, np.ndarray]]] = {}
        for n_inst, inst in enumerate(instances):
            if isinstance(inst, Mapping):
                try:
                    category, kpts = inst['category'], inst['keypoints']
                    vis = inst.get('visible', inst.get('keypoints_visible'))
                    box = inst['box'] if 'box' in inst else inst['bbox']
                except KeyError as e:
                    raise ValueError(f'instances[{n_inst}]: missing key {e}') from None
            else:
                try:
                    category, kpts, vis, box = inst
                except (TypeError, ValueError):
                    raise ValueError(f'instances[{n_inst}]: expected (category, '
                                     'keypoints, visible, box)') from None
            spec = _spec(category)
            n = spec.num_keypoints
            kpts = _array(kpts, f'instances[{n_inst}].keypoints', ndim=2, last=2,
                          length=n)
            vis = (np.ones(n, bool) if vis is None else
                   _array(vis, f'instances[{n_inst}].visible', ndim=1, length=n) > 0)
            size = _box_size(_box(box, f'instances[{n_inst}].box'))
            vis &= np.isfinite(kpts).all(1)
            dist = np.linalg.norm(kpts[:, None] - kpts[None], axis=-1) / size
            mask = vis[:, None] & vis[None]
            np.fill_diagonal(mask, False)
            samples.setdefault(spec.name, []).append((np.nan_to_num(dist), mask))
        stats = {}
        for name, smp in samples.items():
            mean, std, cnt = _pair_stats(smp, get_category(name).num_keypoints)
            stats[name] = PairDistanceStats(name, mean, std, cnt, min_std, min_count)
        return cls(stats, fallback_to_canonical)

    @staticmethod
    def canonical_stats(category, azimuth_step_deg: float = 10.0,
                        elevations_deg: Sequence[float] = (5.0, 15.0, 25.0, 35.0, 45.0),
                        min_std: float = 0.02) -> PairDistanceStats:
        """Statistics from the canonical 3D keypoints alone (fallback).

        The mean-shape canonical keypoints (object frame: z up) are projected
        orthographically from every azimuth (``azimuth_step_deg``) and the given
        elevations (kplink-synth cameras: 5-45 deg), each view normalised by the
        max side of its 2D keypoint box; mean/std are taken over the views. The
        real box (of the mesh or of the visible pixels) is somewhat larger than the
        keypoint box, so learned statistics (``fit``) are preferable.
        """
        spec = _spec(category)
        pts = spec.canonical_keypoints().astype(np.float64)
        n = len(pts)
        samples = []
        mask = ~np.eye(n, dtype=bool)
        for el in np.deg2rad(np.asarray(elevations_deg, np.float64)):
            for az in np.deg2rad(np.arange(0.0, 360.0, azimuth_step_deg)):
                right = np.array([-np.sin(az), np.cos(az), 0.0])
                up = np.array([-np.sin(el) * np.cos(az), -np.sin(el) * np.sin(az),
                               np.cos(el)])
                uv = np.stack([pts @ right, pts @ up], 1)
                size = (uv.max(0) - uv.min(0)).max()
                samples.append((np.linalg.norm(uv[:, None] - uv[None], axis=-1) / size,
                                mask))
        mean, std, cnt = _pair_stats(samples, n)
        return PairDistanceStats(spec.name, mean, std, cnt, min_std, min_count=1)

    @classmethod
    def from_canonical(cls, categories: Union[str, int, Sequence] = None,
                       **kwargs) -> 'PairDistanceModel':
        """Model from canonical keypoints for ``categories`` (one or several; None: an
        empty model that derives every category lazily)."""
        if categories is None:
            return cls({}, fallback_to_canonical=True)
        if isinstance(categories, (str, int, np.integer, CategorySpec)):
            categories = [categories]
        stats = {}
        for c in categories:
            s = cls.canonical_stats(c, **kwargs)
            stats[s.category] = s
        return cls(stats, fallback_to_canonical=True)

    def update(self, other: 'PairDistanceModel') -> 'PairDistanceModel':
        self.stats.update(other.stats)
        return self

    # -- persistence ------------------------------------------------------------------
    def to_dict(self) -> dict:
        return {name: s.to_dict() for name, s in self.stats.items()}

    @classmethod
    def from_dict(cls, d: Mapping, fallback_to_canonical: bool = True
                  ) -> 'PairDistanceModel':
        return cls({k: PairDistanceStats.from_dict(v) for k, v in d.items()},
                   fallback_to_canonical)

    def save(self, path: str) -> None:
        with open(path, 'w') as f:
            json.dump(self.to_dict(), f)

    @classmethod
    def load(cls, path: str, fallback_to_canonical: bool = True) -> 'PairDistanceModel':
        with open(path) as f:
            return cls.from_dict(json.load(f), fallback_to_canonical)


def instances_from_coco(ann: Union[str, Mapping], box_key: str = 'bbox',
                        min_state: int = 1, skip_crowd: bool = True) -> List[tuple]:
    """``(category_id, keypoints, visible, box_xyxy)`` tuples from a kplink-synth
    (COCO keypoint) annotation file or its loaded dict, for :meth:`PairDistanceModel.fit`.

    ``box_key='bbox'`` (visible-pixel box, what top-down crops and the detector use)
    or ``'amodal_bbox'``; a keypoint counts as visible when its state ``v >=
    min_state`` (1: occluded keypoints keep their true location, CKLM is trained on
    them too; 2: visible only).
    """
    if isinstance(ann, str):
        with open(ann) as f:
            ann = json.load(f)
    out = []
    for a in ann['annotations']:
        if skip_crowd and a.get('iscrowd', 0):
            continue
        kp = np.asarray(a['keypoints'], np.float64).reshape(-1, 3)
        x, y, w, h = a[box_key]
        if w <= 0 or h <= 0:
            continue
        out.append((int(a['category_id']), kp[:, :2], kp[:, 2] >= min_state,
                    np.array([x, y, x + w, y + h], np.float64)))
    return out


# ----------------------------------------------------------------------------------
# peak merging and assignment primitives
# ----------------------------------------------------------------------------------
def merge_duplicate_peaks(peaks, scores, features, radius: float, sources=None):
    """Merge peaks closer than ``radius`` (the same physical peak seen from two
    overlapping crops).

    Greedy by descending score (ties: lower index first): each still unmerged peak
    seeds a group with the unmerged peaks within ``radius`` of it (distance to the
    seed, no chaining). With ``sources`` (e.g. the crop index of every peak), a group
    takes at most one peak per source -- peaks of one heatmap are distinct by NMS --
    the nearest one. A group's location and feature are the score-weighted means
    (plain means when all scores are 0), its score the maximum.

    Args:
        peaks (array): (P, 2). scores (array): (P,). features (array): (P, D).
        radius (float): merge distance in the units of ``peaks``.
        sources (array, optional): (P,) integer source id per peak.

    Returns:
        tuple: merged peaks (M, 2), scores (M,), features (M, D), and ``index`` (P,)
        mapping every input peak to its merged peak.
    """
    peaks = _array(peaks, 'peaks', ndim=2, last=2)
    P = len(peaks)
    scores = _array(scores, 'scores', ndim=1, length=P)
    features = _array(features, 'features', ndim=2, length=P)
    if sources is not None:
        sources = _array(sources, 'sources', ndim=1, length=P, dtype=np.int64)
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f'radius: expected a finite number >= 0, got {radius!r}')
    order = np.lexsort((np.arange(P), -scores))
    index = np.full(P, -1, np.int64)
    out_p, out_s, out_f = [], [], []
    for seed in order:
        if index[seed] >= 0:
            continue
        free = np.nonzero(index < 0)[0]
        d = np.linalg.norm(peaks[free] - peaks[seed], axis=1)
        near = free[d <= radius]
        if sources is not None:
            # the seed itself, then per other source the nearest free peak
            group = [seed]
            taken = {int(sources[seed])}
            for q in near[np.argsort(np.linalg.norm(peaks[near] - peaks[seed], axis=1),
                                     kind='stable')]:
                if q != seed and int(sources[q]) not in taken:
                    group.append(q)
                    taken.add(int(sources[q]))
            group = np.asarray(group)
        else:
            group = near
        w = scores[group]
        w = w / w.sum() if w.sum() > 0 else np.full(len(group), 1.0 / len(group))
        index[group] = len(out_p)
        out_p.append(w @ peaks[group])
        out_s.append(scores[group].max())
        out_f.append(w @ features[group])
    D = features.shape[1]
    return (np.asarray(out_p, np.float64).reshape(-1, 2), np.asarray(out_s, np.float64),
            np.asarray(out_f, np.float64).reshape(-1, D), index)


def solve_assignment(cost: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Minimum-cost one-to-one matching of a (R, C) cost matrix.

    scipy's Hungarian solver when available; otherwise a greedy: all entries sorted
    by (cost, row, column) ascending -- ties go to the lower row, then the lower
    column -- and an entry is taken when its row and column are both still free.
    Returns matched (rows, cols), sorted by row.
    """
    cost = np.asarray(cost, np.float64)
    if cost.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if _USE_SCIPY:
        r, c = _scipy_lsa(cost)
        return r.astype(np.int64), c.astype(np.int64)
    R, C = cost.shape
    rr, cc = np.meshgrid(np.arange(R), np.arange(C), indexing='ij')
    order = np.lexsort((cc.ravel(), rr.ravel(), cost.ravel()))
    row_used = np.zeros(R, bool)
    col_used = np.zeros(C, bool)
    rows, cols = [], []
    for e in order:
        r, c = divmod(int(e), C)
        if not row_used[r] and not col_used[c]:
            row_used[r] = col_used[c] = True
            rows.append(r)
            cols.append(c)
            if len(rows) == min(R, C):
                break
    rows = np.asarray(rows, np.int64)
    cols = np.asarray(cols, np.int64)
    o = np.argsort(rows)
    return rows[o], cols[o]


# ----------------------------------------------------------------------------------
# the assigner
# ----------------------------------------------------------------------------------
class LISResult(NamedTuple):
    """Result of :meth:`LocationInstabilityAssigner.assign`.

    assignment: (K, N_c) int64 peak index per target slot, -1 where missing (a peak
        is held by one target, except names kept by ``refill_cost_thr``).
    outliers: (M,) int64 candidate peaks assigned to no target (sorted).
    costs: (K, N_c) float64 cost of every assignment (see the class doc; NaN where
        missing), evaluated on the final assignment.
    fixed: (K, N_c) bool, slots that hold the fixed node they were given in step 1
        (refinement may move a fixed node to another slot; then it is False).
    """
    assignment: np.ndarray
    outliers: np.ndarray
    costs: np.ndarray
    fixed: np.ndarray


class LocationInstabilityAssigner:
    """Share the pooled peaks of K overlapping same-category crops out to the targets.

    Args:
        distance_model (PairDistanceModel, optional): learned statistics; None uses
            canonical-keypoint statistics (:meth:`PairDistanceModel.from_canonical`).
        feature_weight (float): weight of the identity term
            ``||f - c_i||^2 / (2 feature_sigma^2)``.
        distance_weight (float): weight of the distance-stability term, the mean
            over the target's anchors ``j`` of ``min(z_ij^2, z_clip^2) / 2``.
        outlier_thr (float): cost of declaring a peak an outlier; a peak whose
            cheapest slot costs more is an outlier.
        feature_sigma (float): expected identity-feature error (canonical units).
        z_clip (float): robust clip of the z-scores (a wrong anchor costs at most
            ``z_clip^2 / 2``).
        box_weight (float), box_sigma (float): term ``box_weight * (d_out /
            (box_sigma * s_k))^2 / 2`` for a peak at distance ``d_out`` outside the
            margin-expanded box of target k (size ``s_k``).
        box_margin (float): boxes are expanded by ``box_margin * s_k`` on every side
            for membership (peaks slightly outside a box still belong to it).
        fixed_feature_thr (float): a fixed node's identity (feature) cost must be
            at most this (before ``feature_weight``).
        score_thr (float): peaks with ``score <= score_thr`` are ignored.
        merge_radius (float): duplicate-merge radius in box units (``assign_crops``).
        refine_iters (int): leave-one-out refinement rounds (0: paper-only steps).
        keep_crop_naming (bool): in :meth:`assign_crops`, start from the keypoints
            each crop already named (``keypoints`` / ``keypoint_scores`` of the crop
            prediction): a named peak claimed by one target only stays fixed, so LIS
            acts only where two crops claim one peak (it goes to the claimant with
            the lowest box + distance-stability + own-score cost,
            :meth:`_settle_shared_claims`) and on the slots left empty.
            False re-names every pooled peak from its identity feature.
        claim_score_weight (float): with ``keep_crop_naming``, weight of the
            claimant crop's own ``-log score`` when two crops named one peak.
        claim_name_weight (float): with ``keep_crop_naming``, weight of the
            claimant crop's ``-log`` naming confidence when two crops named one
            peak: ``keypoint_name_scores``, the probability its naming gave the name
            (the set namer's p(keypoint | peak set), or the head's p(keypoint |
            peak)). Why: the peak's score says how strongly a crop sees the peak,
            not how sure it is of the name; a crop whose namer hesitated is the
            likelier one to have borrowed the peak. 0 (default): not used.
        refill_cost_thr (float, optional): with ``keep_crop_naming``, a crop whose
            named peak went to another claimant takes the assignment's new peak for
            that slot only if the slot's cost is at most this; otherwise (or when
            the slot stays empty) it keeps its own name, and the peak is then held
            by both targets. Why: the claim is settled wrongly about a third of the
            time on CKLM's outputs, and a duplicate name costs nothing, while an
            unsure refill turns the true owner's hit into a miss. None: always
            refill (the slot may end empty).
    """

    def __init__(self, distance_model: Optional[PairDistanceModel] = None,
                 feature_weight: float = 1.0, distance_weight: float = 1.0,
                 outlier_thr: float = 8.0, feature_sigma: float = 0.1,
                 z_clip: float = 3.0, box_weight: float = 1.0, box_sigma: float = 0.05,
                 box_margin: float = 0.05, fixed_feature_thr: float = 2.0,
                 score_thr: float = 0.0, merge_radius: float = 0.03,
                 refine_iters: int = 3, keep_crop_naming: bool = False,
                 claim_score_weight: float = 1.0, claim_name_weight: float = 0.0,
                 refill_cost_thr: Optional[float] = None):
        for name, v in dict(feature_weight=feature_weight, distance_weight=distance_weight,
                            box_weight=box_weight, box_margin=box_margin,
                            merge_radius=merge_radius,
                            claim_score_weight=claim_score_weight,
                            claim_name_weight=claim_name_weight).items():
            if not np.isfinite(v) or v < 0:
                raise ValueError(f'{name}: expected a finite number >= 0, got {v!r}')
        for name, v in dict(outlier_thr=outlier_thr, feature_sigma=feature_sigma,
                            z_clip=z_clip, box_sigma=box_sigma,
                            fixed_feature_thr=fixed_feature_thr).items():
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f'{name}: expected a finite number > 0, got {v!r}')
        if refill_cost_thr is not None and not (np.isfinite(refill_cost_thr)
                                                and refill_cost_thr >= 0):
            raise ValueError(f'refill_cost_thr: expected None or a finite number >= 0, '
                             f'got {refill_cost_thr!r}')
        if refill_cost_thr is not None and not keep_crop_naming:
            # without the crops' names there is no lost name to keep: say so, don't ignore
            raise ValueError('refill_cost_thr: needs keep_crop_naming=True')
        if claim_name_weight > 0 and not keep_crop_naming:
            raise ValueError('claim_name_weight: needs keep_crop_naming=True (it weighs '
                             'the names the crops gave)')
        if int(refine_iters) != refine_iters or refine_iters < 0:
            raise ValueError(f'refine_iters: expected an integer >= 0, got {refine_iters!r}')
        self.distance_model = (distance_model if distance_model is not None
                               else PairDistanceModel.from_canonical())
        self.feature_weight = float(feature_weight)
        self.distance_weight = float(distance_weight)
        self.outlier_thr = float(outlier_thr)
        self.feature_sigma = float(feature_sigma)
        self.z_clip = float(z_clip)
        self.box_weight = float(box_weight)
        self.box_sigma = float(box_sigma)
        self.box_margin = float(box_margin)
        self.fixed_feature_thr = float(fixed_feature_thr)
        self.score_thr = float(score_thr)
        self.merge_radius = float(merge_radius)
        self.refine_iters = int(refine_iters)
        self.keep_crop_naming = bool(keep_crop_naming)
        self.claim_score_weight = float(claim_score_weight)
        self.claim_name_weight = float(claim_name_weight)
        self.refill_cost_thr = None if refill_cost_thr is None else float(refill_cost_thr)

    # -- configuration ------------------------------------------------------------------
    def fit(self, instances: Iterable, **kwargs) -> 'LocationInstabilityAssigner':
        """Learn distance statistics from ground-truth instances (see
        :meth:`PairDistanceModel.fit`; kplink-synth: ``instances_from_coco(path)``);
        fitted categories replace the current statistics. Returns ``self``."""
        self.distance_model.update(PairDistanceModel.fit(instances, **kwargs))
        return self

    @classmethod
    def from_canonical(cls, categories=None, **kwargs) -> 'LocationInstabilityAssigner':
        """An assigner whose statistics come from the canonical keypoints of
        ``categories`` (derived lazily for any other category)."""
        return cls(distance_model=PairDistanceModel.from_canonical(categories), **kwargs)

    # -- cost terms -----------------------------------------------------------------------
    def _feature_cost(self, features: np.ndarray, canonical: np.ndarray) -> np.ndarray:
        d2 = ((features[:, None, :] - canonical[None]) ** 2).sum(-1)
        return d2 / (2 * self.feature_sigma ** 2)                       # (P, N)

    def _box_cost(self, peaks: np.ndarray, boxes: np.ndarray, sizes: np.ndarray
                  ) -> Tuple[np.ndarray, np.ndarray]:
        m = (self.box_margin * sizes)[:, None]
        lo = boxes[:, :2] - m
        hi = boxes[:, 2:] + m
        out = np.maximum(np.maximum(lo[None] - peaks[:, None], peaks[:, None] - hi[None]),
                         0.0)                                           # (P, K, 2)
        d_out = np.linalg.norm(out, axis=-1)
        inside = d_out == 0
        cost = 0.5 * (d_out / (self.box_sigma * sizes[None])) ** 2
        return self.box_weight * cost, inside                           # (P, K)

    def _distance_cost(self, peaks: np.ndarray, peak_ids: np.ndarray,
                       anchor_xy: np.ndarray, anchor_ok: np.ndarray,
                       anchor_peak: np.ndarray, size: float,
                       stats: PairDistanceStats) -> np.ndarray:
        """(R, N): mean robust z^2/2 of every peak (global index ``peak_ids``) at every
        slot i against the target's anchors j != i; an anchor that is the peak itself
        is skipped (leave-one-out)."""
        usable = stats.usable                                           # (N, N) [i, j]
        n = len(usable)
        dist = np.linalg.norm(peaks[:, None] - anchor_xy[None], axis=-1) / size  # (R, N)
        z = stats.zscore(dist[:, None, :], np.arange(n)[:, None], np.arange(n)[None])
        rho = 0.5 * np.minimum(z ** 2, self.z_clip ** 2)                 # (R, N_i, N_j)
        valid = usable[None] & anchor_ok[None, None, :]
        valid = valid & (anchor_peak[None, None, :] != peak_ids[:, None, None])
        cnt = valid.sum(-1)
        return np.where(cnt > 0, (rho * valid).sum(-1) / np.maximum(cnt, 1), 0.0)

    # -- main entry point -----------------------------------------------------------------
    def assign(self, targets, peaks, peak_scores, peak_features, category) -> LISResult:
        """Share pooled peaks out to K same-category targets.

        Args:
            targets: (K, 4) boxes ``x1y1x2y2``, or a sequence of K mappings with
                ``box`` and optionally ``keypoints`` (N_c, 2) the target already named
                (with optional ``keypoints_valid`` (N_c,) bool, default: finite
                rows, ``keypoint_scores`` (N_c,), default 1, and
                ``keypoint_name_scores`` (N_c,), default 1). A named keypoint
                snaps to the nearest candidate peak within ``merge_radius * s_k``
                (that peak becomes a fixed node; a peak claimed by two targets is
                left ambiguous, or with ``keep_crop_naming`` settled by
                :meth:`_settle_shared_claims`) and keeps its slot through
                refinement; without a peak it is still an anchor for the distance
                term while its slot stays empty.
            peaks (array): (P, 2) pooled peaks, duplicates already merged
                (:func:`merge_duplicate_peaks`), same pixels as the boxes.
            peak_scores (array): (P,); ``<= score_thr`` are not candidates.
            peak_features (array): (P, D) identity features (canonical 3D, D = 3).
            category: category name or COCO id.

        Returns:
            LISResult: ``assignment`` (K, N_c) peak indices (-1 missing),
            ``outliers`` (candidate peaks given to nobody), ``costs`` (K, N_c) and
            ``fixed`` (K, N_c).
        """
        spec = _spec(category)
        canonical = spec.canonical_keypoints().astype(np.float64)
        N = spec.num_keypoints
        boxes, named = self._parse_targets(targets, N)
        K = len(boxes)
        peaks = _array(peaks, 'peaks', ndim=2, last=2)
        P = len(peaks)
        scores = _array(peak_scores, 'peak_scores', ndim=1, length=P)
        features = _array(peak_features, 'peak_features', ndim=2, length=P)
        if features.shape[1] != canonical.shape[1]:
            raise ValueError(f'peak_features: expected {canonical.shape[1]} identity '
                             f'dimensions (canonical 3D point) for {spec.name!r}, got '
                             f'shape {features.shape}')
        if not (np.isfinite(peaks).all() and np.isfinite(features).all()):
            raise ValueError('peaks/peak_features: contain NaN or inf')
        stats = self.distance_model[spec.name]
        if stats.num_keypoints != N:
            raise ValueError(f'distance_model: statistics for {spec.name!r} have '
                             f'{stats.num_keypoints} keypoints, the category has {N}')

        assignment = np.full((K, N), -1, np.int64)
        fixed = np.zeros((K, N), bool)
        cand = np.nonzero(scores > self.score_thr)[0]
        if K == 0 or len(cand) == 0:
            return LISResult(assignment, cand.astype(np.int64),
                             np.full((K, N), np.nan), fixed)

        sizes = np.array([_box_size(b) for b in boxes])
        fcost = self._feature_cost(features, canonical)                  # (P, N)
        bcost, inside = self._box_cost(peaks, boxes, sizes)              # (P, K)
        cand_mask = np.zeros(P, bool)
        cand_mask[cand] = True

        # virtual anchors: named keypoints of the caller
        virt_xy = np.zeros((K, N, 2))
        virt_ok = np.zeros((K, N), bool)

        # (1a) fixed nodes from named keypoints
        claims: Dict[int, List[Tuple[int, int]]] = {}
        virt_score = np.ones((K, N))
        virt_name = np.ones((K, N))
        for k, (kp, ok, ks, kn) in enumerate(named):
            if kp is None:
                continue
            virt_xy[k], virt_ok[k], virt_score[k], virt_name[k] = kp, ok, ks, kn
            for i in np.nonzero(ok)[0]:
                d = np.linalg.norm(peaks[cand] - kp[i], axis=1)
                j = int(np.argmin(d))
                if d[j] <= self.merge_radius * sizes[k]:
                    claims.setdefault(int(cand[j]), []).append((k, int(i)))
        for p, cl in claims.items():
            if len(cl) == 1 and assignment[cl[0]] < 0:
                assignment[cl[0]] = p
                fixed[cl[0]] = True
        lost = []
        if self.keep_crop_naming:
            lost = self._settle_shared_claims(claims, assignment, fixed, peaks, bcost,
                                              sizes, stats, virt_xy, virt_ok, virt_score,
                                              virt_name)
        named_fixed = fixed.copy()   # the caller's word: kept through refinement

        # (1b) fixed nodes: inside exactly one box + confident (mutual nearest) identity
        used = np.zeros(P, bool)
        used[assignment[assignment >= 0]] = True
        best_slot = fcost.argmin(1)
        n_in = inside.sum(1)
        for k in range(K):
            mine = np.nonzero(cand_mask & ~used & (n_in == 1) & inside[:, k])[0]
            if len(mine) == 0:
                continue
            _, _, chosen = identify_keypoints(peaks[mine], np.ones(len(mine)),
                                              features[mine], canonical)
            for i, c in enumerate(chosen):
                p = mine[c]
                if (assignment[k, i] < 0 and not used[p] and best_slot[p] == i
                        and fcost[p, i] <= self.fixed_feature_thr):
                    assignment[k, i] = p
                    fixed[k, i] = True
                    used[p] = True
        # (1c) peaks in several boxes with a confident identity whose slot is free in
        # exactly one of their targets
        multi = np.nonzero(cand_mask & ~used & (n_in >= 2))[0]
        for p in multi[np.argsort(fcost[multi, best_slot[multi]], kind='stable')]:
            i = best_slot[p]
            if fcost[p, i] > self.fixed_feature_thr:
                continue
            free = [k for k in np.nonzero(inside[p])[0] if assignment[k, i] < 0]
            if len(free) == 1:
                assignment[free[0], i] = p
                fixed[free[0], i] = True
                used[p] = True

        # (2) ambiguous nodes against the fixed nodes, one linear assignment
        locked = fixed.copy()
        initial = assignment.copy()
        assignment = self._solve(assignment, locked, cand, peaks, fcost, bcost, sizes,
                                 stats, virt_xy, virt_ok)
        total = self._total_cost(assignment, cand, peaks, fcost, bcost, sizes, stats,
                                 virt_xy, virt_ok)
        # (3) leave-one-out refinement over all candidates, kept while it helps
        for _ in range(self.refine_iters):
            new = self._solve(assignment, named_fixed, cand, peaks, fcost,
                              bcost, sizes, stats, virt_xy, virt_ok, anchors=assignment)
            new_total = self._total_cost(new, cand, peaks, fcost, bcost, sizes, stats,
                                         virt_xy, virt_ok)
            if new_total >= total - 1e-9 or np.array_equal(new, assignment):
                break
            assignment, total = new, new_total

        costs = self._slot_costs(assignment, peaks, fcost, bcost, sizes, stats,
                                 virt_xy, virt_ok)
        if self.refill_cost_thr is not None:
            keep = [(k, i, p) for k, i, p in lost
                    if not costs[k, i] <= self.refill_cost_thr]   # NaN: slot empty
            for k, i, p in keep:
                assignment[k, i] = p
            if keep:
                costs = self._slot_costs(assignment, peaks, fcost, bcost, sizes, stats,
                                         virt_xy, virt_ok)
        assigned = np.zeros(P, bool)
        assigned[assignment[assignment >= 0]] = True
        outliers = cand[~assigned[cand]]
        fixed &= (assignment == initial) & (assignment >= 0)
        return LISResult(assignment, outliers.astype(np.int64), costs, fixed)

    # -- internals -------------------------------------------------------------------------
    def _settle_shared_claims(self, claims, assignment, fixed, peaks, bcost, sizes,
                              stats, virt_xy, virt_ok, virt_score, virt_name) -> None:
        """A peak several crops named goes to the claimant ``(k, i)`` whose cost is
        lowest: box + distance stability (against k's uncontested names) +
        ``claim_score_weight * -log s_ki`` (crop k's own confidence in the peak:
        CKLM learns to show only its target's keypoints, so the owner's crop tends
        to see the peak more strongly) + ``claim_name_weight * -log q_ki`` (how
        sure crop k's naming was of the name). A shared peak is never lost to all of them;
        the others' slots stay free for the assignment step. In place; returns the
        losing claims ``(k, i, p)``."""
        lost = []
        contested = np.zeros_like(virt_ok)
        for cl in claims.values():
            if len(cl) > 1:
                for k, i in cl:
                    contested[k, i] = True
        for p, cl in claims.items():
            if len(cl) < 2:
                continue
            costs = []
            for k, i in cl:
                ok = virt_ok[k] & ~contested[k]
                d = self._distance_cost(peaks[[p]], np.array([p]), virt_xy[k], ok,
                                        np.full(len(ok), -1), sizes[k], stats)[0, i]
                costs.append(bcost[p, k] + self.distance_weight * d
                             + self.claim_score_weight * _neg_log(virt_score[k, i])
                             + self.claim_name_weight * _neg_log(virt_name[k, i]))
            win = int(np.argmin(costs))
            k, i = cl[win]
            if assignment[k, i] < 0:
                assignment[k, i] = p
                fixed[k, i] = True
            lost += [(kl, il, p) for n, (kl, il) in enumerate(cl) if n != win]
        return lost

    @staticmethod
    def _parse_targets(targets, N: int):
        if not (isinstance(targets, Sequence) and not isinstance(targets, str)
                and all(isinstance(t, Mapping) for t in targets)) or len(targets) == 0:
            arr = _array(targets, 'targets', dtype=np.float64)
            if arr.size == 0:
                arr = arr.reshape(0, 4)
            if arr.ndim != 2 or arr.shape[1] != 4:
                raise ValueError(f'targets: expected (K, 4) boxes x1y1x2y2 or a sequence '
                                 f'of mappings with "box", got shape {arr.shape}')
            return np.stack([_box(b, f'targets[{k}]') for k, b in enumerate(arr)]
                            ) if len(arr) else np.zeros((0, 4)), [(None,) * 4] * len(arr)
        boxes, named = [], []
        for k, t in enumerate(targets):
            if not isinstance(t, Mapping) or 'box' not in t:
                raise ValueError(f'targets[{k}]: expected a mapping with a "box" key')
            boxes.append(_box(t['box'], f'targets[{k}].box'))
            kp = t.get('keypoints')
            if kp is None:
                named.append((None,) * 4)
                continue
            kp = _array(kp, f'targets[{k}].keypoints', ndim=2, last=2, length=N)
            ok = t.get('keypoints_valid')
            ok = (np.isfinite(kp).all(1) if ok is None else
                  _array(ok, f'targets[{k}].keypoints_valid', ndim=1, length=N,
                         dtype=bool) & np.isfinite(kp).all(1))
            ks, kn = t.get('keypoint_scores'), t.get('keypoint_name_scores')
            ks = np.ones(N) if ks is None else _array(
                ks, f'targets[{k}].keypoint_scores', ndim=1, length=N)
            kn = np.ones(N) if kn is None else _array(
                kn, f'targets[{k}].keypoint_name_scores', ndim=1, length=N)
            named.append((np.nan_to_num(kp), ok, ks, kn))
        return np.asarray(boxes, np.float64).reshape(-1, 4), named

    def _anchor_arrays(self, k, anchors, peaks, virt_xy, virt_ok):
        row = anchors[k]
        xy = virt_xy[k].copy()
        ok = virt_ok[k].copy()
        has = row >= 0
        xy[has] = peaks[row[has]]
        ok |= has
        return xy, ok, row

    def _cost_matrix(self, anchors, cand, peaks, fcost, bcost, sizes, stats, virt_xy,
                     virt_ok) -> np.ndarray:
        """(|cand|, K * N) linearised cost with ``anchors`` as the fixed nodes."""
        K = len(sizes)
        N = fcost.shape[1]
        C = np.empty((len(cand), K * N))
        for k in range(K):
            xy, ok, row = self._anchor_arrays(k, anchors, peaks, virt_xy, virt_ok)
            dcost = self._distance_cost(peaks[cand], cand, xy, ok, row, sizes[k], stats)
            C[:, k * N:(k + 1) * N] = (self.feature_weight * fcost[cand]
                                       + self.distance_weight * dcost
                                       + bcost[cand, k][:, None])
        return C

    def _solve(self, assignment, locked, cand, peaks, fcost, bcost, sizes, stats,
               virt_xy, virt_ok, anchors=None) -> np.ndarray:
        """Re-assign every candidate that is not in a locked slot."""
        K, N = assignment.shape
        anchors = np.where(locked, assignment, -1) if anchors is None else anchors
        C = self._cost_matrix(anchors, cand, peaks, fcost, bcost, sizes, stats, virt_xy,
                              virt_ok)
        locked_peaks = set(assignment[locked].tolist())
        rows = np.array([r for r, p in enumerate(cand) if p not in locked_peaks],
                        np.int64)
        out = np.where(locked, assignment, -1)
        if len(rows) == 0:
            return out
        C = C[rows]
        C[:, locked.ravel()] = _BIG
        aug = np.concatenate([C, np.full((len(rows), len(rows)), self.outlier_thr)], 1)
        r, c = solve_assignment(aug)
        for ri, ci in zip(r, c):
            if ci < K * N and aug[ri, ci] < _BIG:
                out[ci // N, ci % N] = cand[rows[ri]]
        return out

    def _slot_costs(self, assignment, peaks, fcost, bcost, sizes, stats, virt_xy,
                    virt_ok) -> np.ndarray:
        K, N = assignment.shape
        costs = np.full((K, N), np.nan)
        for k in range(K):
            has = assignment[k] >= 0
            if not has.any():
                continue
            xy, ok, row = self._anchor_arrays(k, assignment, peaks, virt_xy, virt_ok)
            ps = assignment[k, has]
            dcost = self._distance_cost(peaks[ps], ps, xy, ok, row, sizes[k], stats)
            slots = np.nonzero(has)[0]
            costs[k, slots] = (self.feature_weight * fcost[ps, slots]
                               + self.distance_weight * dcost[np.arange(len(ps)), slots]
                               + bcost[ps, k])
        return costs

    def _total_cost(self, assignment, cand, peaks, fcost, bcost, sizes, stats, virt_xy,
                    virt_ok) -> float:
        costs = self._slot_costs(assignment, peaks, fcost, bcost, sizes, stats, virt_xy,
                                 virt_ok)
        n_out = len(cand) - int((assignment >= 0).sum())
        return float(np.nansum(costs)) + self.outlier_thr * n_out

    # -- model-side convenience ----------------------------------------------------------
    def assign_crops(self, crop_predictions: Sequence[Any], boxes, category,
                     return_result: bool = False):
        """Named keypoints for K overlapping same-category targets from their crops.

        Args:
            crop_predictions: K per-crop CKLM predictions, mappings or objects (e.g.
                mmengine ``InstanceData``) with ``peaks`` (P_k, 2) in IMAGE pixels,
                ``peak_scores`` (P_k,) and ``peak_features`` (P_k, D); a leading axis
                of 1, as ``CKLMHead.predict`` emits, is accepted. With
                ``keep_crop_naming`` also ``keypoints`` (N_c, 2) and
                ``keypoint_scores`` (N_c,) (0 = not named), the crop's own naming,
                and with ``claim_name_weight > 0`` ``keypoint_name_scores`` (N_c,).
            boxes (array): (K, 4) target boxes x1y1x2y2 in image pixels.
            category: category name or COCO id (all K targets share it).
            return_result (bool): also return the :class:`LISResult` and the merged
                ``(peaks, scores, features, index)`` it refers to.

        Returns:
            tuple: keypoints (K, N_c, 2) float32 (0 where missing) and scores
            (K, N_c) float32 (the merged peak score, 0 where missing).
        """
        spec = _spec(category)
        boxes = _array(boxes, 'boxes', ndim=2, last=4)
        if len(crop_predictions) != len(boxes):
            raise ValueError(f'crop_predictions: {len(crop_predictions)} crops but boxes '
                             f'has {len(boxes)} rows')
        all_p, all_s, all_f, src, named = [], [], [], [], []
        D = None
        for k, pred in enumerate(crop_predictions):
            get = ((lambda key: pred[key]) if isinstance(pred, Mapping)
                   else (lambda key: getattr(pred, key)))
            if self.keep_crop_naming:
                try:
                    kp, ks = get('keypoints'), get('keypoint_scores')
                except (KeyError, AttributeError) as e:
                    raise ValueError(f'crop_predictions[{k}]: missing {e} (needed by '
                                     'keep_crop_naming)') from None
                kp = _squeeze_batch(_array(kp, f'crop_predictions[{k}].keypoints'), 2)
                ks = _squeeze_batch(_array(ks, f'crop_predictions[{k}].keypoint_scores'), 1)
                kn = None
                if self.claim_name_weight > 0:
                    try:
                        kn = get('keypoint_name_scores')
                    except (KeyError, AttributeError):
                        raise ValueError(
                            f"crop_predictions[{k}]: missing 'keypoint_name_scores' "
                            '(needed by claim_name_weight > 0; a classification CKLM '
                            'head emits them)') from None
                    kn = _squeeze_batch(_array(
                        kn, f'crop_predictions[{k}].keypoint_name_scores'), 1)
                named.append((kp, ks, kn))
            try:
                p, s, f = get('peaks'), get('peak_scores'), get('peak_features')
            except (KeyError, AttributeError) as e:
                raise ValueError(f'crop_predictions[{k}]: missing {e}') from None
            p = _squeeze_batch(_array(p, f'crop_predictions[{k}].peaks'), 2)
            s = _squeeze_batch(_array(s, f'crop_predictions[{k}].peak_scores'), 1)
            f = _squeeze_batch(_array(f, f'crop_predictions[{k}].peak_features'), 2)
            p = _array(p, f'crop_predictions[{k}].peaks', ndim=2, last=2)
            s = _array(s, f'crop_predictions[{k}].peak_scores', ndim=1, length=len(p))
            f = _array(f, f'crop_predictions[{k}].peak_features', ndim=2, length=len(p))
            if D is not None and f.shape[1] != D:
                raise ValueError(f'crop_predictions[{k}].peak_features: {f.shape[1]} '
                                 f'dimensions, crop 0 has {D}')
            D = f.shape[1]
            keep = s > self.score_thr
            all_p.append(p[keep])
            all_s.append(s[keep])
            all_f.append(f[keep])
            src.append(np.full(int(keep.sum()), k))
        N = spec.num_keypoints
        K = len(boxes)
        kpts = np.zeros((K, N, 2), np.float32)
        kscores = np.zeros((K, N), np.float32)
        if K == 0:
            return (kpts, kscores, None, None) if return_result else (kpts, kscores)
        sizes = np.array([_box_size(_box(b, f'boxes[{k}]')) for k, b in enumerate(boxes)])
        merged = merge_duplicate_peaks(np.concatenate(all_p), np.concatenate(all_s),
                                       np.concatenate(all_f), self.merge_radius
                                       * float(sizes.min()), sources=np.concatenate(src))
        mp, ms, mf, _ = merged
        targets = boxes
        if self.keep_crop_naming:
            targets = []
            for k, (kp, ks, kn) in enumerate(named):
                kp = _array(kp, f'crop_predictions[{k}].keypoints', ndim=2, last=2,
                            length=N)
                ks = _array(ks, f'crop_predictions[{k}].keypoint_scores', ndim=1,
                            length=N)
                if kn is not None:
                    kn = _array(kn, f'crop_predictions[{k}].keypoint_name_scores',
                                ndim=1, length=N)
                targets.append(dict(box=boxes[k], keypoints=kp, keypoint_scores=ks,
                                    keypoints_valid=ks > self.score_thr,
                                    keypoint_name_scores=kn))
        result = self.assign(targets, mp, ms, mf, spec.name)
        has = result.assignment >= 0
        kpts[has] = mp[result.assignment[has]]
        kscores[has] = ms[result.assignment[has]]
        if return_result:
            return kpts, kscores, result, merged
        return kpts, kscores

"""Per-category PCK with and without keypoint identification (KLPNet Table 3 protocol).

For every ground-truth keypoint inside the image:
  * "PCK": the prediction in the keypoint's own slot (for a category-implicit head,
    the peak named by nearest canonical feature) is within alpha * max(bbox w, h);
  * "OracleId": the nearest predicted peak is (identification factored out). Models
    without peaks (one channel per keypoint) have OracleId == PCK.
Results are split by the exact keypoint state (visible / occluded), reported per
category and as the mean over categories; a dump of the predictions
(`tools/test.py --dump`) is enough to recompute everything (`evaluate_records`).

Overlapping targets (KLPNet Table 5): a target whose box overlaps another target of
the same category in the same image (intersection >= ``overlap_thr`` of the smaller
box) is also counted in the ``overlap/`` keys. With ``lis=dict(...)`` the
Location Instability Strategy (``LocationInstabilityAssigner.assign_crops``) first
re-shares the pooled peaks of every group of overlapping crops among their targets
and replaces those targets' keypoints; it runs here, at the image level, because a
top-down batch may split one image's crops (mmpose's CocoMetric runs its OKS-NMS
post-processing in the metric for the same reason).
"""
from collections import defaultdict
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmpose.registry import METRICS

from ...datasets.metainfo import category_slices
from ...datasets.synth.categories import get_category
from ...models.utils.lis import LocationInstabilityAssigner
from ..functional import oracle_identify, pck_hits

STATE_NAMES = {2: 'visible', 1: 'occluded'}


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def record_from_sample(sample: dict, slices: Dict[str, tuple]) -> dict:
    """What the metric needs from one packed data sample (dict) with predictions."""
    gt, pred = sample['gt_instances'], sample['pred_instances']
    cat_id = int(np.asarray(sample['category_id']).reshape(-1)[0])
    spec = get_category(cat_id)
    start, n = slices[spec.name]
    gt_kpts = _np(gt['keypoints'])[0, start:start + n]
    states = sample.get('keypoint_states')
    if states is None:  # no exact states: every labelled keypoint counts as visible
        states = (_np(gt['keypoints_visible'])[0] > 0).astype(np.int64) * 2
    states = np.asarray(states).reshape(-1)[start:start + n] if np.size(states) > n \
        else np.asarray(states).reshape(-1)
    record = dict(
        category=spec.name,
        bbox=_np(gt['bboxes'])[0],
        gt_keypoints=gt_kpts,
        states=states,
        pred_keypoints=_np(pred['keypoints'])[0, start:start + n, :2],
        pred_scores=_np(pred['keypoint_scores'])[0, start:start + n])
    if 'keypoint_name_scores' in pred:  # the naming's confidence in each name
        record['pred_name_scores'] = _np(pred['keypoint_name_scores'])[0, start:start + n]
    if 'peaks' in pred:
        record['peaks'] = _np(pred['peaks'])[0]
        record['peak_scores'] = _np(pred['peak_scores'])[0]
        if 'peak_features' in pred:
            record['peak_features'] = _np(pred['peak_features'])[0]
        if 'peak_probs' in pred:  # classification identity: p(keypoint | peak)
            record['peak_probs'] = _np(pred['peak_probs'])[0]
    if sample.get('ori_shape') is not None:   # (h, w): where the image border is
        record['ori_shape'] = tuple(int(v) for v in np.asarray(sample['ori_shape']).reshape(-1)[:2])
    record['img_id'] = sample.get('img_id', sample.get('img_path'))
    return record


def overlap_groups(records: Sequence[dict], overlap_thr: float = 0.1) -> List[List[int]]:
    """Connected groups (>= 2 records) of same-image, same-category targets whose
    boxes overlap by at least ``overlap_thr`` of the smaller box."""
    by_key = defaultdict(list)
    for i, r in enumerate(records):
        if r.get('img_id') is not None:
            by_key[(r['img_id'], r['category'])].append(i)
    groups = []
    for members in by_key.values():
        parent = {i: i for i in members}

        def find(i):
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        boxes = torch.from_numpy(np.stack(
            [np.asarray(records[i]['bbox'], np.float32).reshape(4) for i in members]))
        # intersection over the smaller box = the larger of the two "iof" directions
        iof = bbox_overlaps(boxes, boxes, mode='iof')
        over = torch.maximum(iof, iof.t()) >= overlap_thr
        for a_pos, a in enumerate(members):
            for b_pos in range(a_pos + 1, len(members)):
                if over[a_pos, b_pos]:
                    parent[find(a)] = find(members[b_pos])
        comps = defaultdict(list)
        for i in members:
            comps[find(i)].append(i)
        groups += [sorted(c) for c in comps.values() if len(c) > 1]
    return groups


def apply_lis(records: List[dict], groups: Sequence[Sequence[int]],
              assigner: LocationInstabilityAssigner) -> int:
    """Replace the keypoints of every overlapping group by LIS's assignment of the
    group's pooled peaks (in place). Returns the number of targets changed."""
    changed = 0
    for group in groups:
        members = [records[i] for i in group]
        if any('peak_features' not in r for r in members):
            raise KeyError('CategoryPCKMetric(lis=...) needs pred_instances.peaks, '
                           'peak_scores and peak_features (a category-implicit head)')
        crops = [dict(peaks=r['peaks'], peak_scores=r['peak_scores'],
                      peak_features=r['peak_features'], keypoints=r['pred_keypoints'],
                      keypoint_scores=r['pred_scores']) for r in members]
        for crop, r in zip(crops, members):
            if 'pred_name_scores' in r:
                crop['keypoint_name_scores'] = r['pred_name_scores']
        kpts, scores = assigner.assign_crops(
            crops,
            np.stack([r['bbox'] for r in members]), members[0]['category'])
        for r, k, s in zip(members, kpts, scores):
            r['pred_keypoints'], r['pred_scores'] = k, s
            changed += 1
    return changed


def score_records(records: List[dict], alpha: float = 0.1, score_thr: float = 0.0,
                  overlap_thr: float = 0.1,
                  assigner: Optional[LocationInstabilityAssigner] = None):
    """All of CategoryPCKMetric's numbers from records (online or from a dump):
    LIS on the overlapping groups when ``assigner`` is given (records change in
    place), then the metrics plus ``overlap/`` keys for the overlapping targets.

    Returns:
        tuple: metrics dict, number of targets LIS changed, number of groups.
    """
    groups = overlap_groups(records, overlap_thr)
    changed = apply_lis(records, groups, assigner) if assigner is not None else 0
    metrics = evaluate_records(records, alpha, score_thr)
    overlapping = [records[i] for g in groups for i in g]
    metrics.update({f'overlap/{k}': v for k, v in
                    evaluate_records(overlapping, alpha, score_thr).items()})
    metrics['overlap/num_targets'] = float(len(overlapping))
    return metrics, changed, len(groups)


def evaluate_records(records: Sequence[dict], alpha: float = 0.1,
                     score_thr: float = 0.0) -> Dict[str, float]:
    """PCK / OracleId per category and state, and their means over categories."""
    hits = defaultdict(list)  # (kind, state, category) -> list of bools
    for r in records:
        found = r['pred_scores'] > score_thr
        pck = pck_hits(r['pred_keypoints'], r['gt_keypoints'], r['bbox'], alpha, found)
        if 'peaks' in r:
            oracle_kpts, ofound = oracle_identify(r['peaks'], r['peak_scores'],
                                                  r['gt_keypoints'], score_thr)
            oracle = pck_hits(oracle_kpts, r['gt_keypoints'], r['bbox'], alpha, ofound)
        else:
            oracle = pck
        for state, name in STATE_NAMES.items():
            m = r['states'] == state
            if m.any():
                hits[('PCK', name, r['category'])] += pck[m].tolist()
                hits[('OracleId', name, r['category'])] += oracle[m].tolist()
    results = {}
    categories = sorted({c for _, _, c in hits})
    for kind in ('PCK', 'OracleId'):
        for name in STATE_NAMES.values():
            suffix = '' if name == 'visible' else f'_{name}'
            per_cat = {c: float(np.mean(hits[(kind, name, c)]))
                       for c in categories if hits[(kind, name, c)]}
            for c, v in per_cat.items():
                results[f'{kind}{suffix}/{c}'] = v
            if per_cat:
                results[f'{kind}{suffix}'] = float(np.mean(list(per_cat.values())))
    return results


@METRICS.register_module()
class CategoryPCKMetric(BaseMetric):
    """PCK@alpha per category, with ("PCK") and without ("OracleId") identification.

    Args:
        alpha (float): threshold as a fraction of max(bbox w, h). Defaults to 0.1.
        categories (Sequence[str], optional): the union keypoint space's categories,
            in dataset order (default: all kplink-synth categories).
        score_thr (float): predictions at or below this score count as missing.
        overlap_thr (float): two same-category targets of an image overlap when
            their boxes' intersection is at least this fraction of the smaller box.
        lis (dict, optional): ``LocationInstabilityAssigner`` arguments; when given,
            LIS re-assigns the peaks of overlapping targets before scoring.
    """
    default_prefix = 'kplink'

    def __init__(self, alpha: float = 0.1, categories: Optional[Sequence[str]] = None,
                 score_thr: float = 0.0, overlap_thr: float = 0.1,
                 lis: Optional[dict] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.alpha = alpha
        self.score_thr = score_thr
        self.overlap_thr = overlap_thr
        self.slices = category_slices(categories)
        self.assigner = LocationInstabilityAssigner(**lis) if lis is not None else None

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(record_from_sample(sample, self.slices))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        metrics, changed, num_groups = score_records(
            results, self.alpha, self.score_thr, self.overlap_thr, self.assigner)
        if self.assigner is not None:
            logger.info(f'CategoryPCKMetric: LIS re-assigned the keypoints of {changed} '
                        f'overlapping targets in {num_groups} groups')
        if not metrics:
            logger.warning('CategoryPCKMetric: no ground-truth keypoint to evaluate')
        return metrics

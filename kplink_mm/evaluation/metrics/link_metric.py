"""Link prediction metric for KLPNet's CLPGM (§3.3, Fig. 5d).

Read from every predicted sample (``pred_instances``):
    ``link_pairs``   (1, M, 2) or (M, 2) int: the candidate pairs as **union keypoint
                     slots** (the index into ``gt_instances.keypoints``' K_union
                     axis; -1 = a node of unknown identity). Union slots, not node
                     indices: node indices mean nothing without the model's node
                     list, while slots make a dump self-contained and name the GT
                     link directly (``CLPGMHead.link_fields`` writes them).
    ``link_scores``  (1, M) or (M,) float: the link probabilities.
The leading 1 is the instance axis of a top-down sample (``InstanceData`` needs one
length for all its fields).

Ground truth: the skeleton of the sample's category (``category_id``), and the
keypoint states from the metainfo ``keypoint_states`` (K_union values; 0 outside the
image, 1 occluded, 2 visible). Two ways to label a candidate pair (``labels``):

``'name'``      the pair is a true link iff both slots (the names the model gave its
                nodes) are keypoints of the instance's category, both are labelled
                (state 1 or 2) and they are joined in the skeleton; a pair with an
                unknown (-1) slot or a slot of another category (conditioned on a
                wrong category) is a negative. This scores links *given* the names:
                a table lookup of the skeleton from the names gets every pair right,
                however wrong the names are.
``'position'``  each node takes the labelled ground-truth keypoint it lies on
                (nearest, closer than ``alpha * max(bbox w, h)``, PCK's radius), and
                the pair is a true link iff those two keypoints differ and are joined
                in the skeleton: what a user sees in the drawn skeleton. A misnamed
                node is judged by where it is; a node on no keypoint makes
                negatives. Reads ``pred_instances.peaks`` (P, 2) image pixels and
                ``link_peak_pairs`` (1, M, 2), the peak index of each endpoint
                (``CLPGMHead.link_fields`` writes it), and ``gt_instances.keypoints``
                / ``bboxes``.

Metrics (prefix ``link``), pooled over the candidate pairs of all samples (micro):
    AUC, AP                 ROC-AUC and average precision of the link scores
    precision, recall, F1   of "link iff score >= threshold" over the candidates
    skeleton_recall         fraction of the GT links between labelled keypoints that
                            appear among the candidates scored >= threshold (the
                            links lost with undetected keypoints count as misses)
each also as ``<name>/<category>`` and ``<name>/occlusion_<level>`` with the
instance's occlusion level ('none' / 'slight' / 'heavy', `occlusion_level`:
occluded fraction of the labelled keypoints 0, (0, 0.3], > 0.3). A value that is
undefined (AUC without both classes, AP or skeleton_recall without a true link) is
left out.

Offline: ``evaluate_records([record_from_sample(s, slices) for s in dump])`` on a
``tools/test.py --dump`` file.
"""
from collections import defaultdict
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmpose.registry import METRICS

from ...datasets.metainfo import category_slices
from ...datasets.synth.categories import get_category
from ..functional.identification import pck_radius
from ..functional.links import (OCCLUSION_LEVELS, SLIGHT_OCCLUSION_MAX,
                                average_precision, link_endpoints,
                                link_scores_per_pair,
                                occlusion_level, position_link_labels,
                                precision_recall_f1, roc_auc)

METRIC_NAMES = ('AUC', 'AP', 'precision', 'recall', 'F1', 'skeleton_recall')
LABEL_MODES = ('name', 'position')


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def _as_dict(sample) -> dict:
    return sample.to_dict() if hasattr(sample, 'to_dict') else sample


def record_from_sample(sample, slices: Dict[str, tuple],
                       slight_max: float = SLIGHT_OCCLUSION_MAX, labels: str = 'name',
                       alpha: float = 0.1) -> dict:
    """What the metric keeps of one data sample (dict or PoseDataSample).

    Args:
        sample: a packed sample with ``pred_instances.link_pairs`` /
            ``link_scores`` and the metainfo keys ``category_id`` and
            ``keypoint_states``.
        slices (dict): ``{category: (first union slot, keypoint count)}``, used when
            the sample carries no ``category_slice``.
        slight_max (float): see `occlusion_level`.
        labels (str): ``'name'`` or ``'position'`` (module docstring).
        alpha (float): the ``'position'`` radius as a fraction of max(bbox w, h).

    Returns:
        dict: ``category``, ``sample_id``, ``pairs`` (M, 2) category-local keypoint
        indices (-1: unknown or another category's slot) of the endpoints' names,
        or with ``'position'`` of the keypoints they lie on (-1: none), ``scores``
        (M,), ``labels`` (M,) bool, ``states`` (n,), ``level``, and
        ``name_labels`` (M,) bool: the ``'name'`` labels, and ``name_lookup`` (M,)
        bool: the two names are joined in the skeleton, whatever the keypoints'
        states (the image-blind lookup baseline's prediction).
    """
    if labels not in LABEL_MODES:
        raise ValueError(f'labels must be one of {LABEL_MODES}, got {labels!r}')
    sample = _as_dict(sample)
    sid = sample.get('id', sample.get('img_path', '?'))
    if 'pred_instances' not in sample:
        raise KeyError(f"sample {sid}: no 'pred_instances'; is this a predicted data "
                       'sample?')
    pred = _as_dict(sample['pred_instances'])
    where = f'sample {sid}: pred_instances'
    for key in ('link_pairs', 'link_scores'):
        if key not in pred:
            raise KeyError(f"{where} has no '{key}' (CLPGMHead.link_fields writes it)")
    if sample.get('category_id') is None:
        raise KeyError(f"sample {sid}: no 'category_id' in the metainfo (add it to "
                       "PackPoseInputs' meta_keys)")
    spec = get_category(int(np.asarray(_np(sample['category_id'])).reshape(-1)[0]))
    if sample.get('category_slice') is not None:
        start, count = (int(v) for v in sample['category_slice'])
    elif spec.name in slices:
        start, count = slices[spec.name]
    else:
        raise KeyError(f'sample {sid}: category {spec.name!r} has no slice in the union '
                       f'space {list(slices)} and the sample carries no category_slice')
    if count != spec.num_keypoints:
        raise ValueError(f'sample {sid}: category slice ({start}, {count}) but '
                         f'{spec.name!r} has {spec.num_keypoints} keypoints')
    states = sample.get('keypoint_states')
    if states is None:
        raise KeyError(f"sample {sid}: no 'keypoint_states' (0 outside / 1 occluded / 2 "
                       "visible); add it to PackPoseInputs' meta_keys")
    states = _np(states).reshape(-1)
    num_union = states.size
    if start < 0 or start + count > num_union:
        raise ValueError(f'sample {sid}: category slice ({start}, {count}) of '
                         f'{spec.name!r} does not fit {num_union} keypoint_states')

    pairs = _np(pred['link_pairs'])
    if pairs.ndim == 3 and pairs.shape[0] == 1:
        pairs = pairs[0]
    if pairs.ndim != 2 or pairs.shape[1] != 2:
        raise ValueError(f'{where}.link_pairs has shape {tuple(pairs.shape)}; expected '
                         '(1, M, 2) or (M, 2) union keypoint slots')
    if pairs.size and not np.array_equal(pairs, np.round(pairs)):
        raise ValueError(f'{where}.link_pairs must hold integer union slots')
    pairs = pairs.astype(np.int64)
    if pairs.size and (pairs.min() < -1 or pairs.max() >= num_union):
        raise ValueError(f'{where}.link_pairs holds slots in [{pairs.min()}, '
                         f'{pairs.max()}]; expected -1 (unknown) or 0..{num_union - 1}')
    raw_scores = _np(pred['link_scores'])
    scores = raw_scores[0] if raw_scores.ndim == 2 and raw_scores.shape[0] == 1 \
        else raw_scores
    if scores.shape != (len(pairs),):
        raise ValueError(f'{where}.link_scores has shape {tuple(raw_scores.shape)}; '
                         f'expected (1, {len(pairs)}) or ({len(pairs)},), one score per '
                         'link_pairs row')
    scores = scores.astype(np.float64)
    if not np.isfinite(scores).all():
        raise ValueError(f'{where}.link_scores has non-finite values')
    local = pairs - start
    local[(pairs < 0) | (local < 0) | (local >= count)] = -1
    states = states[start:start + count].astype(np.int64)
    labelled = np.isin(states, (1, 2))
    scores, name_labels = link_scores_per_pair(local, scores, spec.skeleton,
                                               labelled=labelled)
    # what a lookup of the skeleton from the names alone says (no keypoint states: a
    # name given to a keypoint outside the image still looks joined)
    _, name_lookup = link_scores_per_pair(local, scores, spec.skeleton)
    pair_labels = name_labels
    if labels == 'position':
        pair_labels, local = _position_labels(sample, pred, where, sid, start, count,
                                              labelled, len(pairs), spec, alpha)
    return dict(category=spec.name, sample_id=sid, pairs=local, scores=scores,
                labels=pair_labels, name_labels=name_labels, name_lookup=name_lookup,
                states=states,
                level=occlusion_level(states, slight_max))


def _position_labels(sample, pred, where, sid, start, count, labelled, num_pairs, spec,
                     alpha):
    """``'position'`` labels of one sample's pairs (see the module docstring)."""
    for key in ('peaks', 'link_peak_pairs'):
        if key not in pred:
            raise KeyError(f"{where} has no '{key}', which labels='position' needs "
                           '(CLPGMHead.link_fields writes link_peak_pairs for nodes made '
                           "from peaks); use labels='name' for ground-truth nodes")
    gt = _as_dict(sample.get('gt_instances', {}))
    for key in ('keypoints', 'bboxes'):
        if key not in gt:
            raise KeyError(f"sample {sid}: gt_instances has no '{key}', which "
                           "labels='position' needs")
    peaks = _np(pred['peaks']).reshape(-1, 2).astype(np.float64)
    index = _np(pred['link_peak_pairs']).reshape(-1, 2)
    if len(index) != num_pairs:
        raise ValueError(f'{where}.link_peak_pairs has {len(index)} pairs; link_pairs '
                         f'has {num_pairs}')
    index = index.astype(np.int64)
    if index.size and (index.min() < -1 or index.max() >= len(peaks)):
        raise ValueError(f'{where}.link_peak_pairs holds [{index.min()}, {index.max()}]; '
                         f'expected -1 or 0..{len(peaks) - 1} (peaks)')
    ends = link_endpoints(peaks, index)
    gt_kpts = _np(gt['keypoints']).reshape(-1, 2)
    if len(gt_kpts) < start + count:
        raise ValueError(f'sample {sid}: gt_instances.keypoints has {len(gt_kpts)} '
                         f'rows; the slice ({start}, {count}) of {spec.name!r} needs '
                         f'{start + count}')
    radius = pck_radius(_np(gt['bboxes']).reshape(-1, 4)[0], alpha)
    return position_link_labels(ends, gt_kpts[start:start + count], labelled,
                                spec.skeleton, radius)


def name_lookup_records(records: Sequence[dict]) -> List[dict]:
    """The same candidate pairs scored by a lookup of the skeleton from the nodes'
    names (1 if the named keypoints are joined, else 0), ignoring the image: the
    baseline a link predictor has to beat. It reads the names only, not which
    keypoints are labelled, so under ``'name'`` it is wrong exactly on the joined
    pairs with a name of a keypoint outside the image (a false or misnamed peak)."""
    out = []
    for r in records:
        if 'name_lookup' not in r:
            raise KeyError(f"record {r.get('sample_id', '?')} has no 'name_lookup'; "
                           'make it with link_metric.record_from_sample')
        out.append(dict(r, scores=np.asarray(r['name_lookup'], np.float64)))
    return out


def link_thresholds(threshold: Union[float, Mapping[str, float]]) -> Dict[str, float]:
    """``{category: threshold}`` with a ``'default'`` entry from a float or a dict."""
    if isinstance(threshold, Mapping):
        out = {str(k): float(v) for k, v in threshold.items()}
        out.setdefault('default', 0.5)
    else:
        out = {'default': float(threshold)}
    bad = {k: v for k, v in out.items() if not 0.0 <= v <= 1.0}
    if bad:
        raise ValueError(f'link threshold(s) {bad} outside [0, 1]')
    return out


def _group_metrics(records: Sequence[dict], thresholds: Dict[str, float]
                   ) -> Dict[str, float]:
    thr_of = [thresholds.get(r['category'], thresholds['default']) for r in records]
    scores = np.concatenate([r['scores'] for r in records]) if records else np.zeros(0)
    labels = np.concatenate([r['labels'] for r in records]).astype(bool) if records \
        else np.zeros(0, bool)
    out = {}
    if scores.size:
        out['AUC'] = roc_auc(scores, labels)
        out['AP'] = average_precision(scores, labels)
        # scores shifted by the record's threshold: one "score >= 0" decision for all
        shift = np.concatenate([np.full(len(r['scores']), t) for r, t in
                                zip(records, thr_of)])
        out['precision'], out['recall'], out['F1'] = precision_recall_f1(
            scores - shift, labels, 0.0)
    found = total = 0
    for r, thr in zip(records, thr_of):
        labelled = np.isin(r['states'], (1, 2))
        gt = {(min(a, b), max(a, b)) for a, b in get_category(r['category']).skeleton
              if labelled[a] and labelled[b]}
        hit = r['labels'] & (r['scores'] >= thr)
        found += len({(int(min(a, b)), int(max(a, b))) for a, b in r['pairs'][hit]} & gt)
        total += len(gt)
    if total:
        out['skeleton_recall'] = found / total
    return {k: float(v) for k, v in out.items() if np.isfinite(v)}


def best_f1_thresholds(records: Sequence[dict], default: float = 0.5,
                       min_positives: int = 20) -> Dict[str, float]:
    """Per category, the link threshold with the highest F1 over ``records`` (the
    operating point; choose it on a split you do not report, e.g. train). A
    category with fewer than ``min_positives`` true links keeps ``default``."""
    by_cat = defaultdict(list)
    for r in records:
        by_cat[r['category']].append(r)
    out = {'default': float(default)}
    for cat, recs in sorted(by_cat.items()):
        scores = np.concatenate([r['scores'] for r in recs])
        labels = np.concatenate([r['labels'] for r in recs]).astype(bool)
        if labels.sum() < min_positives:
            continue
        # F1 at every distinct score as the threshold, in one sorted pass
        order = np.argsort(-scores, kind='stable')
        s, lab = scores[order], labels[order]
        tp = np.cumsum(lab)
        last = np.r_[s[1:] != s[:-1], True]  # end of each block of tied scores
        n_pred = np.arange(1, len(s) + 1)
        f1 = 2 * tp / (n_pred + lab.sum())
        best = int(np.argmax(np.where(last, f1, -1)))
        out[cat] = float(s[best])
    return out


def evaluate_records(records: Sequence[dict],
                     threshold: Union[float, Mapping[str, float]] = 0.5
                     ) -> Dict[str, float]:
    """Pooled, per-category and per-occlusion-level link metrics of `records`;
    ``threshold`` is one operating point or one per category (``'default'`` for
    the rest)."""
    thresholds = link_thresholds(threshold)
    groups = defaultdict(list)
    for r in records:
        groups[''].append(r)
        groups[f"/{r['category']}"].append(r)
        groups[f"/occlusion_{r['level']}"].append(r)
    levels = [f'/occlusion_{name}' for name in OCCLUSION_LEVELS]
    order = [''] + sorted(k for k in groups if k and k not in levels) + \
        [k for k in levels if k in groups]
    results = {}
    for suffix in order:
        for name, value in _group_metrics(groups[suffix], thresholds).items():
            results[f'{name}{suffix}'] = value
    return results


@METRICS.register_module()
class LinkPredictionMetric(BaseMetric):
    """ROC-AUC, AP and P/R/F1 of predicted keypoint links, per category and
    occlusion level (see the module docstring for the fields it reads).

    Args:
        threshold (float | dict): a candidate is a predicted link iff its score >=
            this; a dict gives one operating point per category (``'default'``, 0.5
            unless given, for the others), e.g. from ``best_f1_thresholds`` on the
            training split (``tools/analysis/calibrate_link_thresholds.py``).
        categories (Sequence[str], optional): the union keypoint space's categories,
            in dataset order (default: all kplink-synth categories).
        slight_max (float): occluded fraction up to which an instance is 'slight'.
        labels (str): how a candidate pair's truth is read: ``'name'`` from the
            nodes' names, ``'position'`` from the ground-truth keypoints the nodes
            lie on (module docstring). The prefix defaults to ``link`` and
            ``link_pos`` respectively, so one evaluator can hold both.
        alpha (float): the ``'position'`` match radius, a fraction of
            max(bbox w, h) (PCK's alpha).
    """
    default_prefix = 'link'

    def __init__(self, threshold: Union[float, Dict[str, float]] = 0.5,
                 categories: Optional[Sequence[str]] = None,
                 slight_max: float = SLIGHT_OCCLUSION_MAX, labels: str = 'name',
                 alpha: float = 0.1, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        if labels not in LABEL_MODES:
            raise ValueError(f'LinkPredictionMetric: labels must be one of {LABEL_MODES}, '
                             f'got {labels!r}')
        if not alpha > 0:
            raise ValueError(f'LinkPredictionMetric: alpha must be > 0, got {alpha}')
        if prefix is None and labels == 'position':
            prefix = 'link_pos'
        super().__init__(collect_device=collect_device, prefix=prefix)
        link_thresholds(threshold)  # fail at build time on a bad value
        self.threshold = threshold
        self.slight_max = slight_max
        self.labels = labels
        self.alpha = alpha
        self.slices = category_slices(categories)

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(record_from_sample(sample, self.slices, self.slight_max,
                                                   self.labels, self.alpha))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        metrics = evaluate_records(results, self.threshold)
        missing = [k for k in METRIC_NAMES if k not in metrics]
        if missing:
            MMLogger.get_current_instance().warning(
                f'LinkPredictionMetric: {missing} undefined over {len(results)} samples '
                '(no candidate pair, or only one class of pairs)')
        return metrics

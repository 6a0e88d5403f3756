"""Occlusion-Net evaluation: PCK of visible vs occluded keypoints and the AUC of
occluded-vs-visible classification (Reddy et al. 2019, Sec. 4.2, Fig. 3/5/6/8/9/10).

Keypoint states come from the dataset (`keypoint_states`: 0 outside the image,
1 occluded, 2 visible). State-0 keypoints are excluded everywhere; "labelled" below
means state 1 or 2 (inside the image, true location known).

Prediction sets, read from `pred_instances` (union-slot layout (1, K_union, ...)):
    ``init``   <- ``init_keypoints``         (the heatmap model's keypoints)
    ``final``  <- ``keypoints``              (after the 2D-KGNN decoder; for a pure
                                              heatmap model, its own keypoints)
    ``reproj`` <- ``reprojected_keypoints``  (the 3D-KGNN reprojection)
``final`` is required, the others are evaluated where present.

PCK: a keypoint is correct when its error is below alpha * max(bbox w, h) (`pck_hits`,
strict ``<`` as in `CategoryPCKMetric`); the bbox is the instance's visible-pixel box.
Values pool every keypoint of the dataset (micro average, as the paper's single-class
figures); per-category values are reported for ``final`` occluded keypoints.

Occlusion classification (ROC / AUC): positive = *visible*, the score is the
predicted probability of being visible, so neither score is negated. (With occluded
as the positive class and 1 - score the AUC is identical; the ROC is mirrored.)
    ``AUC/encoder``  <- a learned visibility probability: ``visibility_scores`` (the
                        2D-KGNN encoder) or ``keypoints_visible`` (mmpose's
                        VisPredictHead); reported only when the predictions carry
                        one of them.
    ``AUC/heatmap``  <- ``init_scores`` (max heatmap confidence), falling back to
                        ``keypoint_scores`` (a pure heatmap model's confidence).
A record's ``visibility_scores`` fall back to the heatmap score when the model has no
encoder (``visibility_source`` says which field was used); such records count for
``AUC/heatmap`` only. A one-class case (no occluded or no visible keypoint) has no
AUC: it is left out of the results with a warning.

Metric keys (without the ``occ/`` prefix), for P in (init, final, reproj) present,
alphas (0.1, 0.2) by default:
    P/PCK@0.1_visible  P/PCK@0.1_occluded  P/PCK@0.2_visible  P/PCK@0.2_occluded
    P/PCK@0.1 (all labelled keypoints)
    AUC/encoder  AUC/heatmap
    final/PCK@0.1_occluded/<category>
A key whose keypoint set is empty is left out.

Offline: ``records = [record_from_sample(s, slices) for s in dump]`` on a
`tools/test.py --dump` file, then `evaluate_records(records)` gives the metrics and
`occlusion_curves(records)` the data of the figures
(tools/analysis/plot_occlusion_curves.py).
"""
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger

from mmpose.registry import METRICS

from ...datasets.metainfo import category_slices
from ...datasets.synth.categories import get_category
from ..functional import group_by_num_invisible, normalized_errors, pck_curve, pck_hits
from ..functional.occlusion import roc_auc, roc_curve

# (set name, pred_instances field), in report order.
PRED_SETS = (('init', 'init_keypoints'), ('final', 'keypoints'),
             ('reproj', 'reprojected_keypoints'))
STATE_NAMES = OrderedDict([(2, 'visible'), (1, 'occluded')])
CURVE_ALPHAS = np.linspace(0.0, 0.3, 31)
# Visibility score fields, in order of preference.
VISIBILITY_FIELDS = ('visibility_scores', 'keypoints_visible', 'init_scores',
                     'keypoint_scores')
# Fields that hold a *learned* visibility probability: the 2D-KGNN encoder's, or
# mmpose VisPredictHead's `keypoints_visible` (the ecosystem's occlusion baseline).
LEARNED_VISIBILITY_FIELDS = ('visibility_scores', 'keypoints_visible')
HEATMAP_FIELDS = ('init_scores', 'keypoint_scores')


def _np(x):
    return x.detach().cpu().numpy() if hasattr(x, 'detach') else np.asarray(x)


def _as_dict(sample) -> dict:
    """A data sample as the dict mmengine's Evaluator passes to metrics."""
    return sample.to_dict() if hasattr(sample, 'to_dict') else sample


def _union_field(container: dict, field: str, where: str, num_union: int, start: int,
                 count: int, dim: Optional[int] = None) -> np.ndarray:
    """`container[field]` in union layout (1, K[, dim]) -> the category slice."""
    value = _np(container[field])
    expected = (1, num_union) if dim is None else (1, num_union, dim)
    ok = value.ndim == len(expected) and value.shape[:2] == expected[:2]
    if ok and dim is not None:
        ok = value.shape[2] >= dim
    if not ok:
        raise ValueError(
            f'{where}.{field} has shape {tuple(value.shape)}; expected {expected} (the '
            f'union keypoint layout: K = {num_union} slots like gt_instances.keypoints, '
            'each instance filling its category slice)')
    value = value[0, start:start + count]
    return value[..., :dim] if dim is not None else value


def record_from_sample(sample, slices: Dict[str, tuple]) -> dict:
    """What the metric keeps of one data sample (dict or PoseDataSample).

    Args:
        sample: a packed sample with `gt_instances`, `pred_instances` and the metainfo
            keys `category_id` and `keypoint_states` (as `tools/test.py --dump`
            writes them: ``PoseDataSample.to_dict()``).
        slices (dict): ``{category: (first union slot, keypoint count)}``, used when
            the sample carries no `category_slice`.

    Returns:
        dict: ``category`` (str), ``bbox`` (4,) xyxy, ``bbox_size`` (max(w, h)),
        ``gt_keypoints`` (n, 2), ``states`` (n,), ``preds`` ({set: (n, 2)} for the
        sets present), ``heatmap_scores`` / ``heatmap_source``,
        ``visibility_scores`` / ``visibility_source`` ((n,) and the field used, or
        None when the predictions carry no score), ``sample_id``; n = the category's
        keypoint count (its slice of the union space).
    """
    sample = _as_dict(sample)
    sid = sample.get('id', sample.get('img_path', '?'))
    for key in ('gt_instances', 'pred_instances'):
        if key not in sample:
            raise KeyError(f"sample {sid}: no '{key}'; is this a predicted data sample "
                           '(tools/test.py --dump)?')
    gt, pred = _as_dict(sample['gt_instances']), _as_dict(sample['pred_instances'])
    for key in ('keypoints', 'bboxes'):
        if key not in gt:
            raise KeyError(f"sample {sid}: gt_instances has no '{key}'")
    gt_all = _np(gt['keypoints'])
    if gt_all.ndim != 3 or gt_all.shape[0] != 1 or gt_all.shape[2] < 2:
        raise ValueError(f'sample {sid}: gt_instances.keypoints has shape '
                         f'{tuple(gt_all.shape)}; expected (1, K_union, 2)')
    num_union = gt_all.shape[1]

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
    if start < 0 or start + count > num_union:
        raise ValueError(f'sample {sid}: category slice ({start}, {count}) of '
                         f'{spec.name!r} does not fit {num_union} union slots')

    states = sample.get('keypoint_states', gt.get('keypoint_states'))
    if states is None:
        raise KeyError(f"sample {sid}: no 'keypoint_states' (0 outside / 1 occluded / 2 "
                       "visible); add it to PackPoseInputs' meta_keys")
    states = _np(states).reshape(-1)
    if states.size != num_union:
        raise ValueError(f'sample {sid}: keypoint_states has {states.size} values; '
                         f'expected {num_union} (one per union slot)')

    where = f'sample {sid}: pred_instances'
    preds = {name: _union_field(pred, field, where, num_union, start, count, 2)
             .astype(np.float64)
             for name, field in PRED_SETS if field in pred}
    if 'final' not in preds:
        raise KeyError(f"{where} has no 'keypoints'")
    bbox = _np(gt['bboxes']).reshape(-1, 4)[0].astype(np.float64)
    record = dict(
        category=spec.name,
        sample_id=sid,
        bbox=bbox,
        bbox_size=float(max(bbox[2] - bbox[0], bbox[3] - bbox[1])),
        gt_keypoints=gt_all[0, start:start + count, :2].astype(np.float64),
        states=states[start:start + count].astype(np.int64),
        preds=preds)
    for key, fields in (('heatmap', HEATMAP_FIELDS), ('visibility', VISIBILITY_FIELDS)):
        present = [f for f in fields if f in pred]
        if ('keypoints_visible' in present and 'keypoint_scores' in pred and np.array_equal(
                _np(pred['keypoints_visible']), _np(pred['keypoint_scores']))):
            # mmpose copies keypoint_scores into keypoints_visible when no visibility
            # head predicted it: that is the heatmap confidence, not a learned score.
            present.remove('keypoints_visible')
        field = next(iter(present), None)
        record[f'{key}_source'] = field
        record[f'{key}_scores'] = None if field is None else _union_field(
            pred, field, where, num_union, start, count).astype(np.float64)
    return record


def _check_record(i: int, r: dict) -> None:
    for key in ('category', 'bbox', 'gt_keypoints', 'states', 'preds'):
        if key not in r:
            raise KeyError(f"record {i}: no '{key}'")
    n = len(r['gt_keypoints'])
    where = f"record {i} ({r['category']})"
    if np.shape(r['gt_keypoints']) != (n, 2):
        raise ValueError(f"{where}: gt_keypoints has shape {np.shape(r['gt_keypoints'])};"
                         ' expected (n, 2)')
    if np.shape(r['states']) != (n,):
        raise ValueError(f"{where}: states has shape {np.shape(r['states'])}; expected "
                         f'({n},) like gt_keypoints')
    if np.size(r['bbox']) != 4:
        raise ValueError(f"{where}: bbox has {np.size(r['bbox'])} values; expected 4 "
                         '(x1, y1, x2, y2)')
    for name, value in r['preds'].items():
        if np.shape(value) != (n, 2):
            raise ValueError(f"{where}: preds['{name}'] has shape {np.shape(value)}; "
                             f'expected ({n}, 2) like gt_keypoints')
    for key in ('heatmap_scores', 'visibility_scores'):
        if r.get(key) is not None and np.shape(r[key]) != (n,):
            raise ValueError(f'{where}: {key} has shape {np.shape(r[key])}; expected '
                             f'({n},)')


def _gather(records: Sequence[dict], alphas: Sequence[float]) -> dict:
    """Flatten the labelled keypoints (state 1 or 2) of all records."""
    set_names = [name for name, _ in PRED_SETS]
    cols = dict(state=[], category=[], instance=[], heatmap=[], visibility=[],
                encoder=[], has_heatmap=[])
    errors = {s: [] for s in set_names}
    present = {s: [] for s in set_names}
    hits = {s: {a: [] for a in alphas} for s in set_names}
    num_occluded, num_keypoints = [], []
    for i, r in enumerate(records):
        _check_record(i, r)
        states = np.asarray(r['states']).astype(np.int64)
        keep = np.isin(states, list(STATE_NAMES))
        m = int(keep.sum())
        num_occluded.append(int((states == 1).sum()))
        num_keypoints.append(len(states))
        cols['state'].append(states[keep])
        cols['category'].append(np.full(m, r['category'], dtype=object))
        cols['instance'].append(np.full(m, i, dtype=np.int64))
        for key in ('heatmap', 'visibility'):
            scores = r.get(f'{key}_scores')
            cols[key].append(np.full(m, np.nan) if scores is None
                             else np.asarray(scores, np.float64)[keep])
        cols['encoder'].append(np.full(m, r.get('visibility_source')
                                       in LEARNED_VISIBILITY_FIELDS))
        cols['has_heatmap'].append(np.full(m, r.get('heatmap_scores') is not None))
        gt = np.asarray(r['gt_keypoints'], np.float64)[keep]
        for s in set_names:
            pred = r['preds'].get(s)
            present[s].append(np.full(m, pred is not None))
            if pred is None:
                errors[s].append(np.full(m, np.nan))
                for a in alphas:
                    hits[s][a].append(np.zeros(m, bool))
                continue
            pred = np.asarray(pred, np.float64)[keep]
            errors[s].append(normalized_errors(pred, gt, r['bbox']))
            for a in alphas:
                hits[s][a].append(pck_hits(pred, gt, r['bbox'], a))

    def cat(v, dtype):
        return np.concatenate(v) if v else np.zeros(0, dtype)

    out = dict(
        state=cat(cols['state'], np.int64), category=cat(cols['category'], object),
        instance=cat(cols['instance'], np.int64), heatmap=cat(cols['heatmap'], float),
        visibility=cat(cols['visibility'], float), encoder=cat(cols['encoder'], bool),
        has_heatmap=cat(cols['has_heatmap'], bool),
        errors={s: cat(v, float) for s, v in errors.items()},
        hits={s: {a: cat(v, bool) for a, v in d.items()} for s, d in hits.items()},
        present={s: cat(v, bool) for s, v in present.items()},
        num_occluded=np.asarray(num_occluded, np.int64),
        num_keypoints=np.asarray(num_keypoints, np.int64))
    out['sets'] = [s for s in set_names if out['present'][s].any()]
    return out


def _partial_sets_warning(records, kp, logger):
    for s in kp['sets']:
        n = sum(s in r['preds'] for r in records)
        if n < len(records):
            logger.warning(f'OcclusionKeypointMetric: prediction set {s!r} is present in '
                           f'only {n} of {len(records)} samples; it is evaluated on those')


def _roc_inputs(kp: dict, which: str, logger=None):
    """(scores, labels) of the `which` score ('encoder' or 'heatmap'); label = visible.

    Encoder scores come only from records with real `visibility_scores`, heatmap
    scores from records with any score. Non-finite scores are left out.
    """
    if which == 'encoder':
        sel, scores = kp['encoder'].copy(), kp['visibility']
    else:
        sel, scores = kp['has_heatmap'].copy(), kp['heatmap']
    finite = np.isfinite(scores)
    bad = sel & ~finite
    if bad.any() and logger is not None:
        logger.warning(f'OcclusionKeypointMetric: {int(bad.sum())} non-finite {which} '
                       'scores are left out of the ROC')
    sel &= finite
    return scores[sel], kp['state'][sel] == 2


def evaluate_records(records: Sequence[dict], alphas: Sequence[float] = (0.1, 0.2),
                     logger=None) -> Dict[str, float]:
    """The metrics (see the module docstring) of records from `record_from_sample`."""
    logger = logger or MMLogger.get_current_instance()
    alphas = tuple(float(a) for a in alphas)
    if not records:
        return {}
    kp = _gather(records, alphas)
    _partial_sets_warning(records, kp, logger)
    a0 = alphas[0]
    results = {}
    for s in kp['sets']:
        present = kp['present'][s]
        for a in alphas:
            for state, name in STATE_NAMES.items():
                sel = present & (kp['state'] == state)
                if sel.any():
                    results[f'{s}/PCK@{a:g}_{name}'] = float(kp['hits'][s][a][sel].mean())
        if present.any():
            results[f'{s}/PCK@{a0:g}'] = float(kp['hits'][s][a0][present].mean())
    if 'final' in kp['sets']:
        occluded = kp['present']['final'] & (kp['state'] == 1)
        for c in sorted(set(kp['category'][occluded])):
            sel = occluded & (kp['category'] == c)
            results[f'final/PCK@{a0:g}_occluded/{c}'] = float(
                kp['hits']['final'][a0][sel].mean())
    for which in ('encoder', 'heatmap'):
        scores, labels = _roc_inputs(kp, which, logger)
        if scores.size == 0:
            continue  # no such score in the predictions
        auc = roc_auc(scores, labels)
        if np.isnan(auc):
            logger.warning(f'OcclusionKeypointMetric: AUC/{which} is undefined: '
                           f'{int(labels.sum())} visible and {int((~labels).sum())} '
                           'occluded keypoints (both classes are needed)')
        else:
            results[f'AUC/{which}'] = auc
    return results


def occlusion_curves(records: Sequence[dict], alphas: Sequence[float] = CURVE_ALPHAS,
                     bins: str = 'fraction', edges: Optional[Sequence[float]] = None,
                     pck_alphas: Sequence[float] = (0.1, 0.2)) -> dict:
    """The data of the paper's figures from records of `record_from_sample`.

    Instances are binned by their occluded (state 1) keypoints with
    `group_by_num_invisible` (default: the fraction of the category's keypoints,
    bins '0%', '0-25%', '25-50%', '50-75%', '>75%'; ``bins='count'``: '0', '1-2',
    '3-4', '5-6', '7+'). Every bin is listed, empty ones with NaN values.

    Returns:
        dict:
          * ``alphas`` (A,), ``sets`` (prediction sets present), ``bin_mode``,
            ``bins`` (labels);
          * ``counts``: {bin or 'all': {'instances', 'visible', 'occluded'}};
          * ``pck_curves``: {set: {'visible'|'occluded': {bin or 'all': (A,)}}}: PCK(alpha)
            (Fig. 5/8; ``error < alpha``, so the value at 0.1 is the metric's PCK@0.1);
          * ``pck_vs_invisible``: {set: {'visible'|'occluded': {alpha: (num bins,)}}} for
            alpha in `pck_alphas` (Fig. 6/9);
          * ``roc``: {'encoder'|'heatmap': {'fpr', 'tpr', 'thresholds', 'auc',
            'num_visible', 'num_occluded'}} for the scores present (Fig. 3), positive =
            visible; ``positive``: 'visible'.
    """
    alphas = np.asarray(alphas, np.float64)
    pck_alphas = tuple(float(a) for a in pck_alphas)
    kp = _gather(records, pck_alphas)
    labels, inst_bin = group_by_num_invisible(
        kp['num_occluded'], kp['num_keypoints'], mode=bins, edges=edges)
    kp_bin = inst_bin[kp['instance']] if len(records) else np.zeros(0, np.int64)
    counts = {}
    for b, label in enumerate(labels + ['all']):
        in_bin = np.ones(len(kp_bin), bool) if label == 'all' else kp_bin == b
        counts[label] = dict(
            instances=int(len(inst_bin) if label == 'all' else (inst_bin == b).sum()),
            visible=int((in_bin & (kp['state'] == 2)).sum()),
            occluded=int((in_bin & (kp['state'] == 1)).sum()))
    curves, vs_invisible = {}, {}
    for s in kp['sets']:
        curves[s], vs_invisible[s] = {}, {}
        for state, name in STATE_NAMES.items():
            base = kp['present'][s] & (kp['state'] == state)
            curves[s][name] = {
                label: pck_curve(kp['errors'][s][base & (kp_bin == b)], alphas,
                                 inclusive=False)
                for b, label in enumerate(labels)}
            curves[s][name]['all'] = pck_curve(kp['errors'][s][base], alphas,
                                               inclusive=False)
            vs_invisible[s][name] = {
                a: np.array([kp['hits'][s][a][base & (kp_bin == b)].mean()
                             if (base & (kp_bin == b)).any() else np.nan
                             for b in range(len(labels))])
                for a in pck_alphas}
    roc = {}
    for which in ('encoder', 'heatmap'):
        scores, is_visible = _roc_inputs(kp, which)
        if scores.size == 0:
            continue
        fpr, tpr, thr = roc_curve(scores, is_visible)
        roc[which] = dict(fpr=fpr, tpr=tpr, thresholds=thr,
                          auc=roc_auc(scores, is_visible),
                          num_visible=int(is_visible.sum()),
                          num_occluded=int((~is_visible).sum()))
    return dict(alphas=alphas, sets=kp['sets'], bin_mode=bins, bins=labels, counts=counts,
                pck_curves=curves, pck_vs_invisible=vs_invisible, roc=roc,
                positive='visible')


@METRICS.register_module()
class OcclusionKeypointMetric(BaseMetric):
    """PCK of visible / occluded keypoints per prediction set, and occlusion AUCs.

    See the module docstring for the keys, the prediction fields read and the
    conventions (positive class = visible; state-0 keypoints excluded).

    Args:
        alphas (Sequence[float]): PCK thresholds as fractions of max(bbox w, h); the
            first one also gives the all-keypoint and per-category values.
            Defaults to (0.1, 0.2).
        categories (Sequence[str], optional): the union space's categories, in dataset
            order; default: the dataset's ``category_slices`` metainfo, else every
            kplink-synth category. A sample's own `category_slice` wins over both.
        collect_device (str): 'cpu' or 'gpu'.
        prefix (str, optional): defaults to 'occ'.
    """
    default_prefix = 'occ'

    def __init__(self, alphas: Sequence[float] = (0.1, 0.2),
                 categories: Optional[Sequence[str]] = None, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not alphas:
            raise ValueError('alphas must not be empty')
        self.alphas = tuple(float(a) for a in alphas)
        self.categories = None if categories is None else list(categories)
        self._slices = None

    @property
    def slices(self) -> Dict[str, tuple]:
        if self._slices is None:
            meta = self.dataset_meta or {}
            if self.categories is None and meta.get('category_slices'):
                self._slices = {k: tuple(v) for k, v in meta['category_slices'].items()}
            else:
                self._slices = category_slices(self.categories)
        return self._slices

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            self.results.append(record_from_sample(sample, self.slices))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        if not results:
            logger.warning('OcclusionKeypointMetric: no sample to evaluate (empty dataset?)')
            return {}
        metrics = evaluate_records(results, self.alphas, logger)
        if not metrics:
            logger.warning('OcclusionKeypointMetric: no labelled (visible or occluded) '
                           'keypoint to evaluate')
        return metrics

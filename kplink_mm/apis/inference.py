"""Top-down KLPNet inference on whole images: boxes -> keypoints -> links (+ LIS).

    model = init_model('configs/klpnet/klpnet_res18_cpu_kplink-synth-128x128.py', ckpt)
    detector = mmdet.apis.init_detector('configs/dpad/atss_dpad_r18_cpu_...py', det_ckpt)
    targets = inference_klpnet(model, 'img.jpg', detector=detector)
    # or with known boxes: inference_klpnet(model, img, bboxes=..., categories=[...])

``init_model`` is mmpose's (it loads the checkpoint through our torch >= 2.6
compatibility). What KLPNet adds over ``mmpose.apis.inference_topdown``: every box
carries a category (the model conditions the keypoint naming and the link graph on
it), and the crops of overlapping same-category targets are re-assigned together by
LIS (``LocationInstabilityAssigner.assign_crops``), which a per-crop forward cannot do.
"""
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
import torch
from mmengine.dataset import Compose, pseudo_collate

from ..datasets.metainfo import category_slices
from ..datasets.synth.categories import get_category
from ..evaluation.functional.links import link_endpoints
from ..evaluation.metrics.category_pck import overlap_groups
from ..evaluation.metrics.link_metric import link_thresholds
from ..models.utils.lis import LocationInstabilityAssigner

__all__ = ['inference_klpnet', 'detect_targets']


def detect_targets(detector, img, score_thr: float = 0.3):
    """Boxes (K, 4) x1y1x2y2, scores (K,) and kplink category names from an mmdet
    detector whose classes are kplink-synth category names."""
    from mmdet.apis import inference_detector
    from mmengine.registry import DefaultScope
    classes = (detector.dataset_meta or {}).get('classes')
    if not classes:
        raise ValueError("the detector has no dataset_meta['classes'] to name its labels")
    for name in classes:
        try:
            get_category(name)
        except (KeyError, ValueError):
            raise ValueError(f'detector class {name!r} is not a kplink-synth category; '
                             'the keypoint model needs detectors trained on its '
                             'categories (checkpoints carry their classes)') from None
    # the detector's test pipeline lives in mmdet's registries
    with DefaultScope.overwrite_default_scope('mmdet'):
        pred = inference_detector(detector, img).pred_instances
    keep = pred.scores >= score_thr
    labels = pred.labels[keep].cpu().numpy()
    names = [classes[int(label)] for label in labels]
    return (pred.bboxes[keep].cpu().numpy().astype(np.float32),
            pred.scores[keep].cpu().numpy().astype(np.float32), names)


def _test_pipeline(model):
    cfg = model.cfg
    loader = cfg.get('test_dataloader') or cfg.val_dataloader
    return Compose(loader.dataset.pipeline)


def _config_evaluator(model, metric_type: str, key: str):
    """``key`` of the first ``metric_type`` evaluator of the model config (test, else
    val) that sets it; None when none does."""
    evaluators = model.cfg.get('test_evaluator') or model.cfg.get('val_evaluator') or []
    if isinstance(evaluators, dict):
        evaluators = [evaluators]
    for ev in evaluators:
        if ev.get('type') == metric_type and ev.get(key) is not None:
            return ev[key]
    return None


def _config_lis_args(model) -> dict:
    """The LIS arguments of the model config's CategoryPCKMetric test evaluator."""
    return dict(_config_evaluator(model, 'CategoryPCKMetric', 'lis') or {})


def _config_link_thresholds(model) -> Dict[str, float]:
    """The operating point(s) of the config's LinkPredictionMetric test evaluator
    (a float or one per category), as ``{category or 'default': threshold}``."""
    thr = _config_evaluator(model, 'LinkPredictionMetric', 'threshold')
    return link_thresholds(0.5 if thr is None else thr)


def inference_klpnet(model,
                     img: Union[str, np.ndarray],
                     bboxes: Optional[np.ndarray] = None,
                     categories: Optional[Sequence[Union[str, int]]] = None,
                     bbox_scores: Optional[np.ndarray] = None,
                     detector=None,
                     det_score_thr: float = 0.3,
                     lis: Union[bool, dict] = True,
                     overlap_thr: float = 0.1,
                     link_thr: Union[None, float, Dict[str, float]] = None
                     ) -> List[Dict]:
    """Keypoints and links of every target in one image.

    Args:
        model: a KLPNet from ``mmpose.apis.init_model``.
        img: image path or BGR array.
        bboxes: (K, 4) x1y1x2y2 boxes; with ``categories`` (K names or kplink ids).
            Leave both out to use ``detector``.
        bbox_scores: (K,) optional box scores (default 1).
        detector: an mmdet detector (e.g. DPAD) whose classes are kplink-synth
            category names; used when ``bboxes`` is None.
        det_score_thr: detections below are dropped.
        lis: run LIS on overlapping same-category targets: True uses the
            ``lis`` arguments of the config's ``CategoryPCKMetric`` test evaluator
            (the defaults of ``LocationInstabilityAssigner`` if it has none), a dict
            gives them; False keeps each crop's own naming.
        overlap_thr: box overlap (intersection over the smaller box) that makes two
            same-category targets share their peaks through LIS.
        link_thr: links at or above this probability are listed in ``links``: a
            float, one per category (dict, ``'default'`` for the rest), or None for
            the config's ``LinkPredictionMetric`` threshold (e.g. operating points
            calibrated on the training split), 0.5 if it has none.

    Returns:
        list[dict]: per target ``bbox`` (4,), ``bbox_score``, ``category``,
        ``keypoint_names`` (N_c), ``keypoints`` (N_c, 2) image pixels,
        ``keypoint_scores`` (N_c,) (0: not found), with a classification CKLM
        ``keypoint_name_scores`` (N_c,) (how sure its naming was of each name; not
        updated by LIS), ``links`` [(name_a, name_b,
        probability)] and ``link_pairs``/``link_scores`` over all candidate pairs
        (category-local keypoint indices, -1 unknown), ``link_endpoints`` (M, 2, 2)
        the image pixels of each pair's two nodes (the link's segment; the nodes are
        CKLM's peaks, so after LIS they may differ from ``keypoints``: links are
        predicted before LIS), ``link_thr`` (the operating point used for
        ``links``), ``lis`` (whether LIS re-assigned this target).
    """
    if bboxes is None:
        if detector is None:
            raise ValueError('inference_klpnet needs bboxes with categories, or a detector')
        bboxes, bbox_scores, categories = detect_targets(detector, img, det_score_thr)
    bboxes = np.asarray(bboxes, np.float32).reshape(-1, 4)
    if categories is None or len(categories) != len(bboxes):
        raise ValueError(f'categories: expected one category per box ({len(bboxes)}), '
                         f'got {None if categories is None else len(categories)}')
    specs = [get_category(c) for c in categories]
    scores = np.ones(len(bboxes), np.float32) if bbox_scores is None else \
        np.asarray(bbox_scores, np.float32).reshape(-1)
    if len(bboxes) == 0:
        return []
    slices = category_slices(list(model.dataset_meta['category_slices'])) \
        if 'category_slices' in (model.dataset_meta or {}) else category_slices()
    for spec in specs:
        if spec.name not in slices:
            raise ValueError(f'category {spec.name!r} is not one the model was built for '
                             f'({list(slices)})')

    pipeline = _test_pipeline(model)
    data = []
    for box, score, spec in zip(bboxes, scores, specs):
        info = dict(img_path=img) if isinstance(img, str) else dict(img=img)
        info.update(bbox=box[None], bbox_score=score.reshape(1),
                    category_id=np.array(spec.id))
        info.update(model.dataset_meta)
        data.append(pipeline(info))
    with torch.no_grad():
        samples = model.test_step(pseudo_collate(data))

    thresholds = (_config_link_thresholds(model) if link_thr is None
                  else link_thresholds(link_thr))
    targets = []
    for box, score, spec, sample in zip(bboxes, scores, specs, samples):
        thr = thresholds.get(spec.name, thresholds['default'])
        pred = sample.pred_instances
        start, count = slices[spec.name]
        pairs = np.asarray(pred.link_pairs).reshape(-1, 2)
        local = np.where(pairs >= 0, pairs - start, -1)
        link_scores = np.asarray(pred.link_scores, np.float32).reshape(-1)
        # where each link's two nodes are (image pixels): the drawn segment, which
        # LinkPredictionMetric(labels='position') scores; NaN for a node without a peak
        peak_pairs = pred.link_peak_pairs if 'link_peak_pairs' in pred else \
            np.full((len(pairs), 2), -1)
        ends = link_endpoints(pred.peaks, peak_pairs).astype(np.float32)
        targets.append(dict(
            bbox=box, bbox_score=float(score), category=spec.name,
            keypoint_names=list(spec.keypoint_names),
            keypoints=np.asarray(pred.keypoints)[0, start:start + count, :2].copy(),
            keypoint_scores=np.asarray(pred.keypoint_scores)[0, start:start + count].copy(),
            link_pairs=local, link_scores=link_scores,
            links=[(spec.keypoint_names[a], spec.keypoint_names[b], float(p))
                   for (a, b), p in zip(local, link_scores)
                   if a >= 0 and b >= 0 and p >= thr],
            link_thr=thr, link_endpoints=ends,
            peaks=np.asarray(pred.peaks)[0], peak_scores=np.asarray(pred.peak_scores)[0],
            peak_features=np.asarray(pred.peak_features)[0], lis=False, img_id=0))
        if 'keypoint_name_scores' in pred:   # a classification head's naming confidence
            targets[-1]['keypoint_name_scores'] = np.asarray(
                pred.keypoint_name_scores, np.float32)[0, start:start + count].copy()

    if lis:
        assigner = LocationInstabilityAssigner(
            **(lis if isinstance(lis, dict) else _config_lis_args(model)))
        for group in overlap_groups(targets, overlap_thr):
            members = [targets[i] for i in group]
            kpts, kscores = assigner.assign_crops(
                members, np.stack([t['bbox'] for t in members]), members[0]['category'])
            for t, k, s in zip(members, kpts, kscores):
                t.update(keypoints=k, keypoint_scores=s, lis=True)
    for t in targets:
        for key in ('peaks', 'peak_scores', 'peak_features', 'img_id'):
            t.pop(key)
    return targets

"""Re-name a dumped target's peaks offline, as a classification CKLM head would online.

A ``tools/test.py --dump`` of a classification CKLM keeps every peak's position,
score and p(keypoint | peak) (``peak_probs``). That is enough to try another naming
of the same predictions without running the network again: the one-to-one
``'assignment'``, the viewpoint-consistent naming
(:class:`~kplink_mm.models.utils.ViewpointNaming`) or the learned peak-set naming
(:class:`~kplink_mm.models.utils.PeakSetNaming`). The result equals the online
naming (``CKLMHead(identity_feature=...)``) because both costs are unchanged by the
crop's scale and shift, in which the head names its peaks.
"""
from typing import Union

import numpy as np

from ...datasets.synth.categories import get_category
from .identification import (check_keypoint_choice, identify_keypoints,
                             identify_keypoints_by_probability, slot_name_scores)

__all__ = ['rename_record', 'record_context']


def record_context(record: dict) -> dict:
    """The target's box and the image rectangle (x1, y1, x2, y2, image pixels) of a
    dumped record: what a peak namer with context inputs reads. Raises ``ValueError``
    naming the record when it has no ``ori_shape`` (a dump without it in the data
    samples' meta keys)."""
    shape = record.get('ori_shape')
    if shape is None or len(shape) < 2:
        raise ValueError(f"record of image {record.get('img_id')!r} has no ori_shape (h, w): "
                         'a peak namer with context inputs needs the image size; dump '
                         "with 'ori_shape' in PackPoseInputs' meta_keys")
    h, w = float(shape[0]), float(shape[1])
    return dict(box=np.asarray(record['bbox'], np.float64).reshape(4),
                image_rect=np.array([0.0, 0.0, w, h]))


def rename_record(record: dict, naming: Union[str, object], score_thr: float = 0.0,
                  keypoint_choice: str = 'feature') -> dict:
    """Return a copy of ``record`` whose ``pred_keypoints`` / ``pred_scores`` come from
    naming its peaks with ``naming``: ``'assignment'``, or an object with the
    ``name_features`` contract (``ViewpointNaming``, ``PeakSetNaming``).

    Peaks a matching leaves unnamed keep the softmax-mean canonical feature, and
    every keypoint then takes the peak with the nearest feature (StarMap's protocol),
    as online. With ``keypoint_choice='probability'`` every keypoint instead takes the
    peak the naming finds most likely to be it (``identify_keypoints_by_probability``,
    as ``CKLMHead(keypoint_choice='probability')``). Raises ``ValueError`` naming the
    record when it has no ``peak_probs`` (a dump of a regression head, or of an older
    version).
    """
    check_keypoint_choice(keypoint_choice)
    if 'peak_probs' not in record or 'peaks' not in record:
        raise ValueError(f"record of image {record.get('img_id')!r} has no peaks / "
                         "peak_probs: re-naming needs a dump of a classification CKLM "
                         "(identity='classification')")
    spec = get_category(record['category'])
    canonical = spec.canonical_keypoints()
    n = len(canonical)
    real = np.asarray(record['peak_scores']) > 0          # dumps pad with score 0
    peaks = np.asarray(record['peaks'], np.float64)[real][:, :2]
    scores = np.asarray(record['peak_scores'], np.float64)[real]
    probs = np.asarray(record['peak_probs'], np.float64)[real][:, :n]
    if isinstance(naming, str) and naming != 'assignment':
        raise ValueError(f"naming must be 'assignment', a ViewpointNaming or a "
                         f'PeakSetNaming, got {naming!r}')
    # the softmax-mean feature: what an unmatched peak keeps, online too
    features = (probs @ canonical).astype(np.float32)
    name_probs = probs   # the naming's confidence in each name, as online
    if len(peaks):
        # the head's own naming code, so offline and online cannot drift apart
        if naming == 'assignment':
            from ...models.heads.cklm_head import CKLMHead
            features = CKLMHead.assign_peak_identities(probs, scores, canonical, features)
        else:
            bbox = np.asarray(record['bbox'], np.float64)
            box_size = max(bbox[2] - bbox[0], bbox[3] - bbox[1])
            if not box_size > 0:
                raise ValueError(f"record of image {record.get('img_id')!r}: bbox "
                                 f'{bbox.tolist()} has no size to scale the naming by')
            extra = ({'context': record_context(record)}
                     if getattr(naming, 'needs_context', False) else {})
            features, name_probs = naming.name_features(
                peaks, scores, probs, spec, box_size, features, return_probs=True, **extra)
    if keypoint_choice == 'probability':
        kpts, kscores, chosen = identify_keypoints_by_probability(peaks, scores, name_probs,
                                                                  score_thr)
    else:
        kpts, kscores, chosen = identify_keypoints(peaks, scores, features, canonical,
                                                   score_thr)
    out = dict(record)
    out['pred_keypoints'], out['pred_scores'] = kpts, kscores
    out['pred_name_scores'] = slot_name_scores(chosen, name_probs)
    # the new names travel with the peaks too, as in an online dump (LIS reads them)
    if 'peak_features' in record:
        padded = np.array(record['peak_features'], np.float32, copy=True)
        padded[np.nonzero(real)[0]] = features
        out['peak_features'] = padded
    return out

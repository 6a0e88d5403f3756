"""CategoryPCKMetric on overlapping same-category targets: the overlap subset and
LIS re-assignment of the pooled peaks (KLPNet Table 5's LIS row)."""
import numpy as np
import pytest

from kplink_mm.evaluation.metrics.category_pck import (CategoryPCKMetric, apply_lis,
                                                       overlap_groups)
from kplink_mm.models.utils.lis import LocationInstabilityAssigner
from tests.models.utils.test_lis import N, _naive, _two_cars


def _records(rng, noise=0.08, img_id=0):
    """Two overlapping cars seen as two top-down crops: each crop names the peaks
    inside its padded box (what CKLM + nearest-canonical naming does), so a crop
    can take the other car's peaks."""
    boxes, peaks, scores, feats, truth = _two_cars(rng, noise)
    named = _naive(boxes, peaks, scores, feats)
    records = []
    for k in range(2):
        gt = peaks[truth[k]]
        pick = named[k]
        records.append(dict(
            category='car', img_id=img_id, bbox=boxes[k], gt_keypoints=gt,
            states=np.full(N, 2), pred_keypoints=np.where(pick[:, None] >= 0,
                                                          peaks[np.maximum(pick, 0)], 0),
            pred_scores=np.where(pick >= 0, scores[np.maximum(pick, 0)], 0.0),
            peaks=peaks, peak_scores=scores, peak_features=feats))
    return records


def test_overlap_groups_are_per_image_and_category():
    box = np.array([0, 0, 10, 10.])
    recs = [dict(category='car', img_id=0, bbox=box),
            dict(category='car', img_id=0, bbox=box + 5),      # overlaps the first
            dict(category='car', img_id=0, bbox=box + 50),     # alone
            dict(category='bus', img_id=0, bbox=box + 1),      # another category
            dict(category='car', img_id=1, bbox=box + 1)]      # another image
    assert overlap_groups(recs, 0.1) == [[0, 1]]
    assert overlap_groups(recs, 0.3) == []  # 25 / 100 of the smaller box


def test_lis_raises_pck_on_overlapping_crops():
    rng = np.random.default_rng(3)
    records = [r for i in range(8) for r in _records(rng, img_id=i)]
    metric = CategoryPCKMetric(alpha=0.05)
    plain = metric.compute_metrics([dict(r) for r in records])
    lis_metric = CategoryPCKMetric(alpha=0.05, lis=dict())
    with_lis = lis_metric.compute_metrics([dict(r) for r in records])
    assert plain['overlap/num_targets'] == with_lis['overlap/num_targets'] == 16
    assert with_lis['overlap/PCK'] > plain['overlap/PCK'] + 0.1, (plain['overlap/PCK'],
                                                                  with_lis['overlap/PCK'])
    # the unchanged oracle keeps the comparison honest: LIS only re-names peaks
    assert with_lis['overlap/OracleId'] == plain['overlap/OracleId']


def test_lis_needs_peak_features():
    rng = np.random.default_rng(0)
    records = _records(rng)
    for r in records:
        del r['peak_features']
    with pytest.raises(KeyError, match='peak_features'):
        apply_lis(records, [[0, 1]], LocationInstabilityAssigner.from_canonical('car'))


def test_lis_reads_the_records_naming_confidence():
    """A record's ``pred_name_scores`` (the head's ``keypoint_name_scores``) reach
    LIS as each crop's ``keypoint_name_scores``; an assigner that weighs them names
    the field when a record lacks it."""
    rng = np.random.default_rng(0)
    records = _records(rng)
    assigner = LocationInstabilityAssigner.from_canonical(
        'car', keep_crop_naming=True, claim_name_weight=1.0)
    with pytest.raises(ValueError, match='keypoint_name_scores'):
        apply_lis([dict(r) for r in records], [[0, 1]], assigner)
    for r in records:
        r['pred_name_scores'] = np.ones(N)
    assert apply_lis(records, [[0, 1]], assigner) == 2

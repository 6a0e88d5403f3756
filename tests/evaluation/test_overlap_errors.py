"""classify_overlap_errors on a hand-built pair of overlapping targets: each class
of error is produced once and counted once."""
import numpy as np
import pytest

from kplink_mm.evaluation.functional.overlap_errors import (ERROR_CLASSES,
                                                            classify_overlap_errors)


def _record(gt, pred, scores, states=None, peaks=None):
    gt = np.asarray(gt, float)
    rec = dict(bbox=np.array([0, 0, 100, 100.]), gt_keypoints=gt,
               states=np.full(len(gt), 2) if states is None else np.asarray(states),
               pred_keypoints=np.asarray(pred, float), pred_scores=np.asarray(scores, float))
    if peaks is not None:
        rec['peaks'] = np.asarray(peaks, float)
        rec['peak_scores'] = np.ones(len(peaks))
    return rec


def test_each_class_once():
    # target A: 5 visible keypoints; the PCK threshold is 0.1 * 100 = 10 px
    gt_a = [[10, 10], [30, 10], [50, 10], [70, 10], [90, 10]]
    gt_b = [[10, 80], [30, 80], [50, 80], [70, 80], [90, 80]]
    pred_a = [[12, 11],    # hit
              [0, 0],      # missing (score 0)
              [51, 79],    # on B's keypoint 2: another instance
              [89, 11],    # on A's own keypoint 4: misnamed
              [50, 50]]    # nowhere
    peaks_a = [[12, 11], [51, 79], [89, 11], [50, 50], [71, 12]]  # A's kpt 3 is in its crop
    a = _record(gt_a, pred_a, [1, 0, 1, 1, 1], peaks=peaks_a)
    b = _record(gt_b, gt_b, np.ones(5), peaks=gt_b)  # B is perfect
    counts = classify_overlap_errors([a, b], [[0, 1]])
    assert counts['total'] == 10
    assert counts['hit'] == 1 + 5
    for name in ('missing', 'other_instance', 'misnamed', 'elsewhere'):
        assert counts[name] == 1, name
    assert sum(counts[n] for n in ERROR_CLASSES) == counts['total']
    # A's crop has a peak at its keypoint 3 (71, 12) and at its keypoint 4 (89, 11),
    # though both were named wrongly; keypoints 1 and 2 have no peak near them
    assert counts['recoverable'] == 2


def test_occluded_keypoints_are_not_scored_but_block_other_instance():
    gt_a = [[10, 10], [30, 10]]
    gt_b = [[60, 60], [80, 80]]
    # A's keypoint 1 predicted on B's *occluded* keypoint 0: still another instance
    a = _record(gt_a, [[10, 10], [61, 60]], [1, 1])
    b = _record(gt_b, gt_b, [1, 1], states=[1, 0])  # kpt 0 occluded, kpt 1 unlabelled
    counts = classify_overlap_errors([a, b], [[0, 1]])
    assert counts['total'] == 2  # A's two visible keypoints; B has none visible
    assert counts['other_instance'] == 1 and counts['hit'] == 1
    assert counts['recoverable'] == 0  # no peaks given


@pytest.mark.parametrize('alpha', [0.01, 0.5])
def test_alpha_scales_the_threshold(alpha):
    a = _record([[0, 0]], [[5, 0]], [1])
    counts = classify_overlap_errors([a], [[0]], alpha=alpha)
    assert counts['hit'] == (1 if alpha == 0.5 else 0)

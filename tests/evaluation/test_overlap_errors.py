"""classify_overlap_errors on a hand-built pair of overlapping targets: each class
of error is produced once and counted once."""
import numpy as np
import pytest

from kplink_mm.evaluation.functional.overlap_errors import (ERROR_CLASSES,
                                                            claim_collisions,
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


def _claimant(gt, pred, scores, name_scores=None, states=None):
    rec = _record(gt, pred, scores, states=states)
    if name_scores is not None:
        rec['pred_name_scores'] = np.asarray(name_scores, float)
    return rec


def test_claim_collisions_count_owners_and_which_signal_picks_them():
    # A and B (100 px boxes; collision radius 0.03 * 100 = 3 px) each name 3 slots.
    gt_a = [[10, 10], [30, 10], [50, 50]]
    gt_b = [[10, 90], [31, 11], [80, 80]]
    # A's slot 1 and B's slot 1 both claim the peak at (30, 10): it is A's keypoint 1
    # (B's own keypoint 1 is at (31, 11) too, but occluded, so only A is right).
    # A's slot 2 and B's slot 2 both claim (65, 65): nobody's keypoint.
    # A's slot 0 and B's slot 0 are 80 px apart: no collision.
    pred_a = [[10, 10], [30, 10], [65, 65]]
    pred_b = [[10, 90], [31, 10], [66, 65]]
    a = _claimant(gt_a, pred_a, [0.9, 0.5, 0.7], name_scores=[1, 0.9, 0.5])
    b = _claimant(gt_b, pred_b, [0.9, 0.8, 0.7], name_scores=[1, 0.4, 0.5],
                  states=[2, 1, 2])
    counts = claim_collisions([a, b], [[0, 1]])
    assert counts == dict(collisions=2, one_right=1, both_right=0, none_right=1,
                          score_picks_owner=0,   # B, the borrower, sees the peak better
                          name_picks_owner=1)    # but A is surer of the name
    # two keypoints that touch, each named right by its own crop: both right; the
    # radius decides whether 2 px apart is one peak
    c = _claimant([[50, 50]], [[50, 50]], [1])
    d = _claimant([[52, 50]], [[52, 50]], [1])
    assert claim_collisions([c, d], [[0, 1]])['both_right'] == 1
    assert claim_collisions([c, d], [[0, 1]], merge_radius=0.01)['collisions'] == 0
    # a slot at or below score_thr claims nothing
    assert claim_collisions([a, b], [[0, 1]], score_thr=0.75)['collisions'] == 0
    # without the naming's confidences the name count is unknown, not 0
    del a['pred_name_scores']
    assert claim_collisions([a, b], [[0, 1]])['name_picks_owner'] is None
    # targets in different groups never collide
    assert claim_collisions([a, b], [[0], [1]])['collisions'] == 0
    with pytest.raises(ValueError, match='merge_radius: expected a finite number >= 0'):
        claim_collisions([a, b], [[0, 1]], merge_radius=-1)

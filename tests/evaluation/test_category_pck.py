import numpy as np

import pytest

from kplink_mm.evaluation import evaluate_records, identify_keypoints, oracle_identify
from kplink_mm.evaluation.functional import identify_keypoints_by_probability


def test_identification_picks_nearest_canonical_feature():
    peaks = np.array([[10, 10], [50, 50], [90, 20]], np.float32)
    scores = np.array([0.9, 0.8, 0.7], np.float32)
    feats = np.array([[0.5, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, 0.0, 0.5]], np.float32)
    canonical = np.array([[0.0, 0.4, 0.1], [0.1, 0.0, 0.45], [0.45, 0.05, 0.0]], np.float32)
    kpts, kscores, chosen = identify_keypoints(peaks, scores, feats, canonical)
    np.testing.assert_array_equal(chosen, [1, 2, 0])
    np.testing.assert_array_equal(kpts, peaks[[1, 2, 0]])
    np.testing.assert_allclose(kscores, [0.8, 0.7, 0.9])
    # Peaks under the score threshold are not candidates; none left -> score 0.
    _, s, c = identify_keypoints(peaks, np.zeros(3), feats, canonical, score_thr=0.05)
    assert (c == -1).all() and (s == 0).all()


def test_identification_by_probability_lets_two_keypoints_share_their_likeliest_peak():
    """Keypoints 0 and 1 both find peak 0 the likeliest (two keypoints within one peak's
    reach): both take it, which a one-to-one naming would forbid; keypoint 2 takes
    peak 2. Padding (score 0) and peaks at or below the threshold are not candidates."""
    peaks = np.array([[10, 10], [50, 50], [90, 20], [0, 0]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.0], np.float32)
    probs = np.array([[0.6, 0.5, 0.1],
                      [0.3, 0.4, 0.2],
                      [0.1, 0.1, 0.7]])          # rows: the 3 decoded peaks
    kpts, kscores, chosen = identify_keypoints_by_probability(peaks, scores, probs)
    np.testing.assert_array_equal(chosen, [0, 0, 2])
    np.testing.assert_array_equal(kpts, peaks[[0, 0, 2]])
    np.testing.assert_allclose(kscores, [0.9, 0.9, 0.7])
    _, _, chosen = identify_keypoints_by_probability(peaks, scores, probs, score_thr=0.85)
    np.testing.assert_array_equal(chosen, [0, 0, 0])
    _, s, c = identify_keypoints_by_probability(peaks, np.zeros(4), probs, score_thr=0.05)
    assert (c == -1).all() and (s == 0).all()
    with pytest.raises(ValueError, match='name_probs has 3 rows for 2 peaks'):
        identify_keypoints_by_probability(peaks[:2], scores[:2], probs)
    with pytest.raises(ValueError, match=r'expected \(M, N\) probabilities'):
        identify_keypoints_by_probability(peaks, scores, probs[0])


def test_oracle_takes_nearest_peak():
    kp, found = oracle_identify(np.array([[0, 0], [10, 10]], np.float32), np.array([1, 1.]),
                                np.array([[9, 9], [1, 0]], np.float32))
    np.testing.assert_array_equal(kp, [[10, 10], [0, 0]])
    assert found.all()


def test_pck_equals_a_value_computed_by_hand():
    # bbox 100 x 50 -> threshold 0.1 * 100 = 10 px.
    bbox = np.array([0, 0, 100, 50], np.float32)
    gt = np.array([[10, 10], [20, 20], [30, 30], [40, 40]], np.float32)
    pred = gt + np.array([[3, 4], [6, 8], [0, 9.9], [0, 0]], np.float32)  # errors 5, 10, 9.9, 0
    rec_a = dict(category='car', bbox=bbox, gt_keypoints=gt, states=np.array([2, 2, 2, 1]),
                 pred_keypoints=pred, pred_scores=np.array([1, 1, 1, 0.]),
                 peaks=gt[[0, 1, 2]] + 1, peak_scores=np.ones(3))
    # second category: one visible keypoint, hit
    rec_b = dict(category='chair', bbox=bbox, gt_keypoints=gt[:1], states=np.array([2]),
                 pred_keypoints=gt[:1], pred_scores=np.ones(1))
    res = evaluate_records([rec_a, rec_b], alpha=0.1)
    # car visible: errors 5 (hit), 10 (miss: not < 10), 9.9 (hit) -> 2/3
    assert np.isclose(res['PCK/car'], 2 / 3)
    # car occluded: error 0 but score 0 means "not predicted" -> 0
    assert res['PCK_occluded/car'] == 0.0
    assert res['PCK/chair'] == 1.0
    assert np.isclose(res['PCK'], (2 / 3 + 1.0) / 2)  # mean over categories
    # OracleId: nearest peaks are 1.41 px away for all three visible -> 1.0; occluded kp
    # (40, 40) nearest peak (31, 31) is 12.7 px away -> miss.
    assert res['OracleId/car'] == 1.0 and res['OracleId_occluded/car'] == 0.0
    # without peaks OracleId falls back to PCK (identity given by the channel)
    assert res['OracleId/chair'] == 1.0

"""numpy PCK curves, ROC / AUC (ties) and occlusion bins of kplink_mm.evaluation.functional."""
import itertools

import numpy as np
import pytest

from kplink_mm.evaluation.functional import (group_by_num_invisible, normalized_errors,
                                             pck_curve, pck_hits, roc_auc, roc_curve)


def _mann_whitney(scores, labels):
    """P(s_pos > s_neg) + 0.5 P(s_pos == s_neg), by enumerating the pairs."""
    pos = [s for s, y in zip(scores, labels) if y]
    neg = [s for s, y in zip(scores, labels) if not y]
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0
               for p, n in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


def test_auc_with_ties_equals_mann_whitney_by_hand():
    scores = [0.9, 0.8, 0.8, 0.6, 0.6, 0.3]
    labels = [1, 1, 0, 1, 0, 0]
    # positives 0.9, 0.8, 0.6 vs negatives 0.8, 0.6, 0.3:
    # 0.9 -> 3 wins; 0.8 -> tie + 2 wins = 2.5; 0.6 -> tie + 1 win = 1.5; 7 of 9 pairs
    assert roc_auc(scores, labels) == pytest.approx(7 / 9)
    assert _mann_whitney(scores, labels) == pytest.approx(7 / 9)
    fpr, tpr, thr = roc_curve(scores, labels)
    # tied scores are one point (a diagonal step), not one point per sample
    np.testing.assert_allclose(thr, [np.inf, 0.9, 0.8, 0.6, 0.3])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 2 / 3, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 1 / 3, 2 / 3, 1])
    # the input order of tied samples does not matter
    perm = [2, 4, 0, 5, 1, 3]
    assert roc_auc(np.take(scores, perm), np.take(labels, perm)) == pytest.approx(7 / 9)


def test_auc_matches_pairwise_count_on_random_ties():
    rng = np.random.default_rng(0)
    for _ in range(5):
        scores = rng.integers(0, 5, size=40).astype(float)  # many ties
        labels = rng.random(40) < 0.4
        assert roc_auc(scores, labels) == pytest.approx(_mann_whitney(scores, labels))


def test_auc_extremes_and_degenerate_cases():
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [True, True, False, False]) == 1.0
    assert roc_auc([0.9, 0.8, 0.2, 0.1], [False, False, True, True]) == 0.0
    assert roc_auc([0.5] * 4, [1, 0, 1, 0]) == 0.5
    # one class only / no sample: undefined -> nan, no exception
    assert np.isnan(roc_auc([0.2, 0.7], [1, 1]))
    assert np.isnan(roc_auc([0.2, 0.7], [0, 0]))
    assert np.isnan(roc_auc([], []))
    fpr, tpr, _ = roc_curve([0.2, 0.7], [1, 1])
    assert np.isnan(fpr).all() and np.allclose(tpr[-1], 1.0)
    with pytest.raises(ValueError, match='not finite'):
        roc_auc([0.1, np.nan], [1, 0])
    with pytest.raises(ValueError, match='differ in length'):
        roc_curve([0.1, 0.2], [1])


def test_pck_curve_by_hand():
    errors = [0.0, 0.05, 0.1, 0.2, np.nan]  # NaN: no usable prediction -> a miss
    alphas = [0.0, 0.1, 0.15, 0.3]
    np.testing.assert_allclose(pck_curve(errors, alphas), [1 / 5, 3 / 5, 3 / 5, 4 / 5])
    np.testing.assert_allclose(pck_curve(errors, alphas, inclusive=False),
                               [0, 2 / 5, 3 / 5, 4 / 5])
    assert np.isnan(pck_curve([], alphas)).all()


def test_normalized_errors_agree_with_pck_hits():
    bbox = np.array([0, 0, 100, 50])  # max(w, h) = 100
    gt = np.array([[10, 10], [20, 20], [30, 30]], float)
    pred = gt + np.array([[3, 4], [0, 12], [6, 8]])  # errors 5, 12, 10 px
    err = normalized_errors(pred, gt, bbox)
    np.testing.assert_allclose(err, [0.05, 0.12, 0.10])
    for a in (0.06, 0.11, 0.2):
        np.testing.assert_array_equal(err < a, pck_hits(pred, gt, bbox, a))
    assert np.isinf(normalized_errors(pred, gt, [5, 5, 5, 5])).all()  # degenerate box


def test_group_by_num_invisible():
    labels, idx = group_by_num_invisible([0, 3, 4, 6, 9, 12, 2, 7], [12] * 6 + [7, 7])
    assert labels == ['0%', '0-25%', '25-50%', '50-75%', '>75%']
    # 3/12 = 25% is in '0-25%' (upper edges inclusive); 2/7 = 29% in '25-50%'
    np.testing.assert_array_equal(idx, [0, 1, 2, 2, 3, 4, 2, 4])
    labels, idx = group_by_num_invisible([0, 1, 2, 3, 5, 6, 7, 11], mode='count')
    assert labels == ['0', '1-2', '3-4', '5-6', '7+']
    np.testing.assert_array_equal(idx, [0, 1, 1, 2, 3, 3, 4, 4])
    labels, idx = group_by_num_invisible([1, 3, 5, 9], mode='count', edges=[3, 5, 7, 9])
    assert labels == ['0-3', '4-5', '6-7', '8-9', '10+']
    np.testing.assert_array_equal(idx, [0, 0, 1, 3])
    with pytest.raises(ValueError, match='num_keypoints'):
        group_by_num_invisible([1, 2])
    with pytest.raises(ValueError, match='increasing'):
        group_by_num_invisible([1], [4], edges=[0.5, 0.25])

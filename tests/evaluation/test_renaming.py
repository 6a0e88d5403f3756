import numpy as np
import pytest
import torch

from kplink_mm.datasets.synth.categories import category_names
from kplink_mm.evaluation.functional import rename_record, slot_name_scores
from kplink_mm.models.utils import PeakSetNamer, PeakSetNaming, ViewpointNaming
from tests.models.utils.test_viewpoint_naming import mirror_confused_car_view


def _record():
    """A car seen from azimuth 0, elevation 20, with its camera-facing keypoints found
    as peaks whose naming probabilities prefer each keypoint's mirror partner."""
    uv, visible, confused = mirror_confused_car_view(azimuth=0.0, scale=50.0,
                                                     shift=(100.0, 80.0))
    probs = np.zeros((24, 12))
    probs[:len(visible)] = confused
    peaks = np.zeros((24, 2))
    peaks[:len(visible)] = uv[visible]
    scores = np.zeros(24)
    scores[:len(visible)] = 0.9
    lo, hi = uv.min(0), uv.max(0)
    return dict(category='car', bbox=np.r_[lo, hi], gt_keypoints=uv,
                states=np.isin(np.arange(12), visible).astype(int) * 2,
                pred_keypoints=np.zeros((12, 2)), pred_scores=np.zeros(12), peaks=peaks,
                peak_scores=scores, peak_probs=probs, img_id=7), visible, uv


def test_assignment_and_viewpoint_renaming_of_a_dumped_record():
    record, visible, uv = _record()
    by_assignment = rename_record(record, 'assignment')
    by_viewpoint = rename_record(record, ViewpointNaming())
    wrong = np.linalg.norm(by_assignment['pred_keypoints'][visible] - uv[visible], axis=1) > 1
    assert wrong.any()          # the mirror-preferring probabilities swap the pairs
    np.testing.assert_allclose(by_viewpoint['pred_keypoints'][visible], uv[visible],
                               atol=1e-5)
    np.testing.assert_allclose(by_viewpoint['pred_scores'][visible], 0.9)
    assert record['pred_scores'].sum() == 0       # the input record is not modified


def test_renaming_by_probability_takes_each_keypoints_likeliest_peak():
    """With keypoint_choice='probability' every keypoint takes the peak whose
    p(keypoint | peak) is highest (worked out here from the record's own
    probabilities), with that probability as its name score; an unknown choice is
    refused by name."""
    record, visible, uv = _record()
    out = rename_record(record, 'assignment', keypoint_choice='probability')
    probs = record['peak_probs'][:len(visible)]
    expected = uv[visible][probs.argmax(0)]
    np.testing.assert_allclose(out['pred_keypoints'], expected, atol=1e-5)
    np.testing.assert_allclose(out['pred_name_scores'], probs.max(0), atol=1e-6)
    with pytest.raises(ValueError, match="keypoint_choice must be one of"):
        rename_record(record, 'assignment', keypoint_choice='nearest')


def test_renaming_errors_name_the_record_and_the_value():
    record, _, _ = _record()
    with pytest.raises(ValueError, match="naming must be 'assignment'"):
        rename_record(record, 'argmax')
    del record['peak_probs']
    with pytest.raises(ValueError, match="image 7 has no peaks / peak_probs"):
        rename_record(record, 'assignment')


def test_renaming_a_record_without_peaks_names_nothing():
    record, _, _ = _record()
    record['peak_scores'] = np.zeros(24)
    out = rename_record(record, ViewpointNaming())
    assert np.all(out['pred_scores'] == 0)


def test_slot_name_scores_read_each_keypoints_own_peak_and_name():
    probs = np.array([[0.1, 0.2, 0.3],
                      [0.4, 0.5, 0.6]])
    np.testing.assert_allclose(slot_name_scores(np.array([1, -1, 0]), probs),
                               [0.4, 0.0, 0.3])
    # a chosen index past the real peaks (padding) has no name, so no confidence
    np.testing.assert_allclose(slot_name_scores(np.array([5, 0, 1]), probs), [0, 0.2, 0.6])
    assert slot_name_scores(np.full(3, -1), np.zeros((0, 3))).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match=r'name_probs: expected \(M, 3\)'):
        slot_name_scores(np.array([1, -1, 0]), np.zeros((2, 12)))


def _peak_of(record, out, i):
    peaks = np.asarray(record['peaks'])
    return int(np.argmin(np.linalg.norm(peaks - out['pred_keypoints'][i], axis=1)))


def test_renamed_records_carry_how_sure_each_naming_was_of_each_name():
    """``pred_name_scores``: the head's p(keypoint | peak) of the peak each keypoint
    took for the one-to-one and viewpoint namings, the set namer's p(keypoint | peak
    set) for the learned set naming."""
    record, visible, _ = _record()
    torch.manual_seed(0)
    cats = list(category_names())
    set_naming = PeakSetNaming(namer=PeakSetNamer(len(cats), 12, embed_dims=16),
                               categories=cats)
    box = np.asarray(record['bbox'])
    m = len(visible)
    set_probs = np.exp(set_naming.log_probs(record['peaks'][:m], record['peak_scores'][:m],
                                            record['peak_probs'][:m], 'car',
                                            max(box[2:] - box[:2])))[:, :12]
    for naming, probs in (('assignment', record['peak_probs']),
                          (ViewpointNaming(), record['peak_probs']),
                          (set_naming, set_probs)):
        out = rename_record(record, naming)
        named = np.nonzero(out['pred_scores'] > 0)[0]
        assert len(named) and out['pred_name_scores'].shape == (12,)
        want = [probs[_peak_of(record, out, i), i] for i in named]
        np.testing.assert_allclose(out['pred_name_scores'][named], want, rtol=1e-5)
        assert np.all(out['pred_name_scores'][out['pred_scores'] == 0] == 0)

import numpy as np
import pytest

from kplink_mm.evaluation.functional import rename_record
from kplink_mm.models.utils import ViewpointNaming
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

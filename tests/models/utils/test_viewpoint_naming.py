import numpy as np
import pytest

from kplink_mm.datasets.synth.categories import get_category
from kplink_mm.geometry import orthographic_project, viewing_sphere_rotations
from kplink_mm.models.utils import ViewpointNaming
from kplink_mm.models.utils.lis import solve_assignment


def _car_view(azimuth=30.0, elevation=20.0, scale=40.0, shift=(64.0, 64.0)):
    model = get_category('car').mean_model()
    R = viewing_sphere_rotations(360.0, (elevation, ))[0]
    c, s = np.cos(np.deg2rad(azimuth)), np.sin(np.deg2rad(azimuth))
    yaw = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])
    # turning the object by -azimuth = moving the camera to +azimuth
    uv = scale * orthographic_project(model.keypoints @ yaw, R) + np.asarray(shift)
    facing = (model.keypoint_normals @ yaw) @ -R[2]
    return model, uv, facing


def mirror_confused_car_view(**view):
    """A car's projected keypoints (``_car_view(**view)``), the camera-facing ones and,
    for each of those, naming probabilities that prefer the keypoint's mirror partner
    (0.4 against 0.3 for the right name): appearance alone swaps every left/right pair,
    one rigid viewpoint cannot. Shared by the naming, head and re-naming tests.

    Returns (uv (12, 2), visible (V, ), probs (V, 12))."""
    spec = get_category('car')
    _, uv, facing = _car_view(**view)
    visible = np.where(facing > 0)[0]
    flip = dict(list(spec.flip_pairs) + [(j, i) for i, j in spec.flip_pairs])
    probs = np.full((len(visible), 12), 0.02)
    for row, k in enumerate(visible):
        probs[row, k] = 0.3
        probs[row, flip.get(k, k)] = 0.4 if flip.get(k, k) != k else 0.3
    return uv, visible, probs / probs.sum(1, keepdims=True)


def test_viewpoint_naming_fixes_names_that_disagree_with_one_pose():
    """Peaks at a car's camera-facing keypoints. The naming logits are confused: every
    left/right pair is named the wrong way round with a slight preference, so the
    plain one-to-one assignment swaps every pair; one rigid viewpoint cannot explain
    those names, so the viewpoint naming restores them."""
    model = get_category('car').mean_model()
    uv, visible, probs = mirror_confused_car_view()
    peaks = uv[visible]
    scores = np.full(len(visible), 0.9)
    rows, cols = solve_assignment(-np.log(probs) - np.log(scores[:, None]))
    assert np.all(cols != visible[rows])      # the appearance alone swaps them all
    naming = ViewpointNaming()
    rows, cols, view = naming(peaks, scores, probs, model.keypoints, model.keypoint_normals,
                              box_size=80.0)
    np.testing.assert_array_equal(cols, visible[rows])
    assert 0 <= view < len(naming.rotations)


def test_viewpoint_naming_matches_each_peak_once_and_handles_no_peaks():
    model = get_category('bottle').mean_model()
    naming = ViewpointNaming(azimuth_step=30.0, elevations=(10.0, 30.0))
    assert len(naming.rotations) == 24
    rng = np.random.default_rng(0)
    peaks = rng.uniform(20, 100, size=(9, 2))     # more peaks than the bottle's 7
    probs = rng.dirichlet(np.ones(7), size=9)
    rows, cols, _ = naming(peaks, rng.uniform(0.1, 1, 9), probs, model.keypoints, None, 60.0)
    assert len(rows) == 7 and len(set(rows)) == 7 and sorted(cols) == list(range(7))
    rows, cols, view = naming(np.zeros((0, 2)), np.zeros(0), np.zeros((0, 7)),
                              model.keypoints, model.keypoint_normals, 60.0)
    assert len(rows) == len(cols) == 0 and view == -1


def test_viewpoint_naming_errors_name_the_value():
    model = get_category('bottle').mean_model()
    with pytest.raises(ValueError, match='sigma'):
        ViewpointNaming(sigma=0)
    with pytest.raises(ValueError, match='facing_weight'):
        ViewpointNaming(facing_weight=-1)
    with pytest.raises(ValueError, match=r'probs of shape \(2, 3\) for 7 keypoints'):
        ViewpointNaming()(np.zeros((2, 2)), np.ones(2), np.ones((2, 3)), model.keypoints,
                          None, 10.0)
    with pytest.raises(ValueError, match='box_size'):
        ViewpointNaming()(np.zeros((2, 2)), np.ones(2), np.full((2, 7), 1 / 7),
                          model.keypoints, None, 0.0)

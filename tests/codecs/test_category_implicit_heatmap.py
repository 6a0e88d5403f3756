import numpy as np
import pytest

from kplink_mm.codecs import CategoryImplicitHeatmap


def _codec(**kw):
    args = dict(input_size=(128, 128), heatmap_size=(32, 32), kernel_sizes=(7, 5, 3))
    args.update(kw)
    return CategoryImplicitHeatmap(**args)


def _decode_final(codec, encoded):
    # Decode the target itself: the finest confidence channel is already a probability.
    peaks, scores, feats = codec.decode(encoded['heatmaps'])
    keep = scores[0] > 0
    return peaks[0, keep], scores[0, keep], feats[0, keep]


def test_round_trip_recovers_locations_and_identities():
    codec = _codec()
    kpts = np.array([[[10.3, 20.7], [64.0, 64.0], [100.9, 15.2], [40.5, 110.1]]], np.float32)
    canon = np.array([[[0.1, 0.2, 0.3], [-0.4, 0.0, 0.1], [0.3, -0.3, -0.2],
                       [0.0, 0.5, 0.0]]], np.float32)
    enc = codec.encode(kpts, np.ones((1, 4)), canon)
    assert enc['heatmaps'].shape == (codec.num_channels, 32, 32)
    np.testing.assert_array_equal(enc['keypoint_weights'], np.ones((1, 4)))
    peaks, scores, feats = _decode_final(codec, enc)
    assert len(peaks) == 4
    for k in range(4):
        j = np.linalg.norm(peaks - kpts[0, k], axis=1).argmin()
        assert np.linalg.norm(peaks[j] - kpts[0, k]) < 1.0  # within a pixel
        np.testing.assert_allclose(feats[j], canon[0, k], atol=1e-6)


def test_coarse_to_fine_kernels_shrink():
    codec = _codec()
    enc = codec.encode(np.array([[[64.0, 64.0]]], np.float32))['heatmaps']
    support = [(enc[s] > 0.01).sum() for s in range(3)]
    assert support[0] > support[1] > support[2] > 0


def test_keypoint_outside_input_is_dropped_not_wrapped():
    codec = _codec()
    kpts = np.array([[[-6.0, 50.0], [50.0, 140.0], [60.0, 60.0]]], np.float32)
    enc = codec.encode(kpts, np.ones((1, 3)))
    np.testing.assert_array_equal(enc['keypoint_weights'], [[0, 0, 1]])
    peaks, _, _ = _decode_final(codec, enc)
    assert len(peaks) == 1 and np.allclose(peaks[0], [60.0, 60.0], atol=1e-4)
    # Nothing leaks onto the border rows/columns.
    conf = enc['heatmaps'][:3]
    assert conf[:, :, 0].max() == 0 and conf[:, -1, :].max() == 0


def test_invisible_keypoints_are_not_encoded():
    codec = _codec()
    enc = codec.encode(np.array([[[30.0, 30.0], [90.0, 90.0]]], np.float32),
                       np.array([[1.0, 0.0]]))
    peaks, _, _ = _decode_final(codec, enc)
    assert len(peaks) == 1 and np.allclose(peaks[0], [30.0, 30.0], atol=1e-4)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match='kernel_sizes'):
        _codec(kernel_sizes=(4, ))
    with pytest.raises(ValueError, match='keypoints_canonical'):
        _codec().encode(np.zeros((1, 2, 2)), None, np.zeros((1, 3, 3)))


def test_identity_radius_widens_only_the_identity_targets():
    kpts = np.array([[[40.0, 40.0], [100.0, 100.0]]], np.float32)
    canon = np.array([[[0.1, 0.2, 0.3], [-0.4, 0.0, 0.1]]], np.float32)
    narrow = _codec(offset_radius=1)
    wide = _codec(offset_radius=1, identity_radius=2)
    sl = narrow.channel_slices()
    a = narrow.encode(kpts, np.ones((1, 2)), canon)['heatmaps']
    b = wide.encode(kpts, np.ones((1, 2)), canon)['heatmaps']
    # offsets unchanged: 3x3 cells per keypoint; identities: 5x5 cells per keypoint
    np.testing.assert_array_equal(a[sl['offset_mask']], b[sl['offset_mask']])
    assert a[sl['canonical_mask']].sum() == 2 * 9 and b[sl['canonical_mask']].sum() == 2 * 25
    idx = b[sl['keypoint_index']][0]
    assert idx[10, 10] == 0 and idx[10 + 2, 10 - 2] == 0 and idx[10, 13] == -1 and idx[25, 25] == 1
    assert (idx >= 0).sum() == 50
    np.testing.assert_allclose(b[sl['canonical']][:, 10, 10], canon[0, 0])

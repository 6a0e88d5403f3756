import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import PixelData

from mmpose.structures import PoseDataSample

import kplink_mm  # noqa: F401
from kplink_mm.datasets.metainfo import category_slices
from kplink_mm.datasets.synth.categories import get_category

CODEC = dict(type='CategoryImplicitHeatmap', input_size=(64, 64), heatmap_size=(16, 16),
             kernel_sizes=(7, 5, 3))


def _head(**kw):
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    cfg = dict(type='CKLMHead', in_channels=[8, 16], feat_channels=8, num_stages=3,
               num_layers=2, decoder=CODEC)
    cfg.update(kw)
    return MODELS.build(cfg)


def _feats(batch=2):
    torch.manual_seed(0)
    return [torch.randn(batch, 8, 16, 16), torch.randn(batch, 16, 8, 8)]


def _fit(head, feats, samples, steps=80):
    """Adam steps on the head's summed losses; returns the last losses."""
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    for _ in range(steps):
        losses = head.loss(feats, samples)
        opt.zero_grad()
        sum(losses.values()).backward()
        opt.step()
    return losses


def _samples(head, batch=2):
    from mmpose.registry import KEYPOINT_CODECS
    codec = KEYPOINT_CODECS.build(CODEC)
    out = []
    for b in range(batch):
        enc = codec.encode(np.array([[[10.0 + b, 20.0], [40.0, 44.0]]], np.float32),
                           np.ones((1, 2)), np.array([[[0.1, 0.2, 0.3], [0.3, -0.2, 0.0]]]))
        s = PoseDataSample(metainfo=dict(category_id=get_category('car').id))
        s.gt_fields = PixelData(heatmaps=torch.from_numpy(enc['heatmaps']))
        out.append(s)
    return out


@pytest.mark.parametrize('cross_stage', [True, False])
def test_losses_are_per_stage_and_finite(cross_stage):
    head = _head(cross_stage=cross_stage)
    losses = head.loss(_feats(), _samples(head))
    assert set(losses) == {f'loss_{k}_s{s}' for k in ('conf', 'offset', 'canonical')
                           for s in (1, 2, 3)}
    assert all(torch.isfinite(v) for v in losses.values())
    sum(losses.values()).backward()
    assert all(p.grad is not None for p in head.stages[0].parameters())


def test_stage_count_must_match_kernels():
    with pytest.raises(ValueError, match='kernel_sizes'):
        _head(num_stages=2)
    with pytest.raises(ValueError, match='1..5'):
        _head(num_stages=6, decoder=dict(CODEC, kernel_sizes=(13, 11, 9, 7, 5, 3)))


def test_training_steps_reduce_the_loss():
    head = _head()
    feats, samples = _feats(), _samples(head)
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    first = None
    for _ in range(30):
        loss = sum(head.loss(feats, samples).values())
        first = first if first is not None else loss.item()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.5 * first


def test_predict_names_keypoints_in_the_category_slice():
    head = _head().eval()
    samples = _samples(head, batch=1)
    with torch.no_grad():
        preds = head.predict(_feats(1), samples, test_cfg=dict(flip_test=False))
    start, n = category_slices()['car']
    p = preds[0]
    assert p.keypoints.shape == (1, 97, 2) and p.peaks.shape[1] == 24
    outside = np.ones(97, bool)
    outside[start:start + n] = False
    assert not p.keypoint_scores[0, outside].any()


def test_flip_back_undoes_an_input_flip_exactly():
    """Targets of a flipped input, flipped back, decode to the original keypoints."""
    from mmpose.registry import KEYPOINT_CODECS
    head = _head()
    codec = KEYPOINT_CODECS.build(CODEC)
    kpts = np.array([[[10.3, 20.7], [40.6, 44.2]]], np.float32)
    canon = np.array([[[0.1, 0.2, 0.3], [0.3, -0.2, 0.0]]], np.float32)
    flipped = kpts.copy()
    flipped[..., 0] = 64 - 1 - flipped[..., 0]  # mmpose's flip_keypoints
    canon_flipped = canon * np.array([1, -1, 1], np.float32)  # left <-> right
    enc = codec.encode(flipped, np.ones((1, 2)), canon_flipped)['heatmaps']
    sl = codec.channel_slices()
    out = torch.from_numpy(np.concatenate(
        [enc[sl['confidence']][-1:], enc[sl['offset']], enc[sl['canonical']]]))[None]
    back = head._flip_back(out, _samples(head, batch=1))[0].numpy()
    peaks, scores, feats = codec.decode_maps(back[0], back[1:3], back[3:])
    got = peaks[0, scores[0] > 0]
    for k in range(2):
        j = np.linalg.norm(got - kpts[0, k], axis=1).argmin()
        assert np.linalg.norm(got[j] - kpts[0, k]) < 1e-3
        np.testing.assert_allclose(feats[0, j], canon[0, k], atol=1e-6)


def test_classification_identity_losses_train_and_name_peaks():
    head = _head(identity='classification')
    feats, samples = _feats(), _samples(head)
    losses = head.loss(feats, samples)
    assert set(losses) == {f'loss_{k}_s{s}' for k in ('conf', 'offset', 'identity')
                           for s in (1, 2, 3)}
    first = losses['loss_identity_s3'].item()
    losses = _fit(head, feats, samples)
    # Two keypoints (car slots 0 and 1): the CE at their pixels falls well below ln(12).
    assert first > 1.0 and losses['loss_identity_s3'].item() < 0.2
    head.eval()
    with torch.no_grad():
        preds = head.predict(feats, samples, test_cfg=dict(flip_test=False))
    canon = get_category('car').canonical_keypoints()
    p = preds[0]
    start, _ = category_slices()['car']
    # The peaks are named car keypoints 0 and 1, each within one heatmap cell (4 px).
    np.testing.assert_allclose(p.keypoints[0, start + 1], [40.0, 44.0], atol=4.5)
    np.testing.assert_allclose(p.keypoints[0, start], [10.0, 20.0], atol=4.5)
    # Features of the named peaks lie next to the category's canonical points.
    top = p.peak_features[0, :2]
    assert min(np.linalg.norm(top - canon[0], axis=1)) < 0.1
    assert min(np.linalg.norm(top - canon[1], axis=1)) < 0.1


def test_classification_flip_back_swaps_left_right_logits():
    head = _head(identity='classification')
    spec = get_category('car')
    logits = torch.zeros(1, 3 + head.max_keypoints, 16, 16)
    i, j = spec.flip_pairs[0]
    logits[0, 3 + i] = 5.0
    back = head._flip_back(logits, _samples(head, batch=1))
    assert torch.all(back[0, 3 + j] == 5.0) and torch.all(back[0, 3 + i] == 0.0)


def test_classification_identity_needs_the_category():
    head = _head(identity='classification')
    samples = _samples(head, batch=1)
    samples[0].set_metainfo(dict(category_id=None))
    with pytest.raises(KeyError, match='category_id'):
        head.loss(_feats(1), samples)
    with pytest.raises(ValueError, match='identity'):
        _head(identity='embedding')


def test_object_context_names_peaks_from_a_global_cue():
    """Same local features, swapped names: only the pooled deepest level tells them apart."""
    from mmpose.registry import KEYPOINT_CODECS
    torch.manual_seed(0)
    head = _head(identity='classification', object_context=True)
    # Zero-initialised FiLM: training starts from the paper's head, yet it gets gradients.
    assert torch.all(head.object_context.weight == 0)
    codec = KEYPOINT_CODECS.build(CODEC)
    fine = torch.randn(1, 8, 16, 16).expand(2, -1, -1, -1).clone()
    deep = torch.stack([torch.full((16, 8, 8), 1.0), torch.full((16, 8, 8), -1.0)])
    samples = []
    for b in range(2):
        a, c = ([10.0, 20.0], [40.0, 44.0]) if b == 0 else ([40.0, 44.0], [10.0, 20.0])
        enc = codec.encode(np.array([[a, c]], np.float32), np.ones((1, 2)),
                           np.array([[[0.1, 0.2, 0.3], [0.3, -0.2, 0.0]]]))
        s = PoseDataSample(metainfo=dict(category_id=get_category('car').id))
        s.gt_fields = PixelData(heatmaps=torch.from_numpy(enc['heatmaps']))
        samples.append(s)
    losses = head.loss([fine, deep], samples)
    sum(losses.values()).backward()
    assert head.object_context.weight.grad.abs().sum() > 0
    losses = _fit(head, [fine, deep], samples)
    assert losses['loss_identity_s3'].item() < 0.2
    head.eval()
    with torch.no_grad():
        preds = head.predict([fine, deep], samples, test_cfg=dict(flip_test=False))
    start, _ = category_slices()['car']
    # what is tested is the naming: keypoint 0 goes to its own peak, not the swapped
    # one 39 px away (how exactly 80 steps fit the offsets varies with the thread
    # count's float summation order: within 4.5 px by default, 8 px with 1 thread)
    for pred, own, other in ((preds[0], [10.0, 20.0], [40.0, 44.0]),
                             (preds[1], [40.0, 44.0], [10.0, 20.0])):
        xy = pred.keypoints[0, start]
        assert np.linalg.norm(xy - own) < 0.3 * np.linalg.norm(xy - other), xy


def test_category_context_conditions_on_the_sample_category():
    head = _head(identity='classification', object_context=True, category_context=True)
    samples = _samples(head)
    losses = head.loss(_feats(), samples)
    sum(losses.values()).backward()
    car = list(category_slices()).index('car')
    grad = head.category_context.weight.grad
    assert grad[car].abs().sum() > 0
    assert torch.all(grad[[i for i in range(len(grad)) if i != car]] == 0)
    # alone (no pooled context) it still conditions the prediction layers
    alone = _head(identity='classification', category_context=True)
    assert alone.object_context is None and alone.stages[0].context_conv is not None
    assert len(alone(_feats())) == 3  # no samples (e.g. FLOPs counting): zero term


def test_argmax_identity_feature_is_the_canonical_point_of_the_most_likely_keypoint():
    spec = get_category('car')
    canon = spec.canonical_keypoints()
    samples = None
    logits = torch.zeros(1, 12, 2, 2)
    # A hesitant pixel: keypoints 0 and 1 (left/right partners) nearly tied, others low.
    logits[0, 0], logits[0, 1] = 2.0, 1.8
    for mode in ('expected', 'argmax'):
        head = _head(identity='classification', identity_feature=mode)
        samples = samples or _samples(head, batch=1)
        feat = head._identity_features(logits, samples)[0, :, 0, 0]
        if mode == 'argmax':
            np.testing.assert_allclose(feat, canon[0], atol=1e-6)
        else:
            # the softmax mean sits between the partners and off every canonical point
            assert np.linalg.norm(canon - feat, axis=1).min() > 0.05
    with pytest.raises(ValueError, match='identity_feature'):
        _head(identity='classification', identity_feature='mode')


def test_per_category_identity_logits_train_only_the_category_slice():
    head = _head(identity='classification', identity_logits='per_category')
    assert head.stages[-1].predict.out_channels == 3 + head.num_union
    start, n = category_slices()['car']
    feats, samples = _feats(), _samples(head)
    losses = head.loss(feats, samples)
    for s in (1, 2, 3):
        head.zero_grad()
        losses[f'loss_identity_s{s}'].backward(retain_graph=True)
        grad = head.stages[s - 1].predict.weight.grad[3:, :, 0, 0].abs().sum(1)
        # the identity loss reaches car's logits (its softmax) and no other category's
        assert torch.all(grad[start:start + n] > 0)
        assert torch.all(torch.cat([grad[:start], grad[start + n:]]) == 0)
    losses = _fit(head, feats, samples)
    assert losses['loss_identity_s3'].item() < 0.2
    head.eval()
    with torch.no_grad():
        p = head.predict(feats, samples, test_cfg=dict(flip_test=False))[0]
    np.testing.assert_allclose(p.keypoints[0, start], [10.0, 20.0], atol=4.5)
    np.testing.assert_allclose(p.keypoints[0, start + 1], [40.0, 44.0], atol=4.5)


def test_per_category_logits_name_from_the_category_slice_and_flip_within_it():
    head = _head(identity='classification', identity_logits='per_category',
                 identity_feature='argmax')
    spec = get_category('bus')      # not the first category: its slice starts at 12
    start, n = category_slices()['bus']
    assert start > 0
    samples = _samples(head, batch=1)
    samples[0].set_metainfo(dict(category_id=spec.id))
    logits = torch.zeros(1, head.num_union, 2, 2)
    logits[0, 3] = 9.0              # car's keypoint 3: another category's, ignored
    logits[0, start + 5] = 4.0      # bus keypoint 5
    feat = head._identity_features(logits, samples)[0, :, 0, 0]
    np.testing.assert_allclose(feat, spec.canonical_keypoints()[5], atol=1e-6)
    out = torch.zeros(1, 3 + head.num_union, 4, 4)
    i, j = spec.flip_pairs[0]
    out[0, 3 + start + i] = 5.0
    out[0, 3 + i] = 7.0             # car's channel i stays where it is
    back = head._flip_back(out, samples)
    assert torch.all(back[0, 3 + start + j] == 5.0)
    assert torch.all(back[0, 3 + start + i] == 0.0)
    assert torch.all(back[0, 3 + i] == 7.0)


def test_per_category_logits_need_classification():
    with pytest.raises(ValueError, match="identity='classification'"):
        _head(identity_logits='per_category')
    with pytest.raises(ValueError, match='identity_logits'):
        _head(identity='classification', identity_logits='union')


def test_assignment_identity_feature_names_each_keypoint_once():
    """Two peaks whose most likely keypoint is the same: argmax names both keypoint 0
    (keypoint 1 takes a fallback); the one-to-one assignment names them 0 and 1."""
    spec = get_category('car')
    canon = spec.canonical_keypoints()
    start, n = category_slices()['car']
    samples = None
    conf = torch.zeros(1, 1, 16, 16)
    conf[0, 0, 4, 4], conf[0, 0, 10, 12] = 0.9, 0.8
    rest = torch.zeros(1, 2 + 12, 16, 16)
    logits = torch.full((12, ), -5.0)
    rest[0, 2:, 4, 4] = logits.index_put((torch.tensor([0, 1]), ), torch.tensor([0.6, 0.4]).log())
    rest[0, 2:, 10, 12] = logits.index_put((torch.tensor([0, 1]), ), torch.tensor([0.55, 0.45]).log())
    named = {}
    for mode in ('argmax', 'assignment'):
        head = _head(identity='classification', identity_feature=mode)
        samples = samples or _samples(head, batch=1)
        pred = head.decode_outputs(conf, rest, samples)[0]
        named[mode] = pred.keypoints[0, start:start + 2] / 4.0  # heatmap cells (x, y)
        if mode == 'assignment':
            np.testing.assert_allclose(pred.peak_features[0, 0], canon[0], atol=1e-6)
            np.testing.assert_allclose(pred.peak_features[0, 1], canon[1], atol=1e-6)
        # how sure the naming was of each name: p(the keypoint | the peak it took)
        assert pred.keypoint_name_scores.shape == (1, head.num_union)
        took = [0, 0] if mode == 'argmax' else [0, 1]
        np.testing.assert_allclose(pred.keypoint_name_scores[0, start:start + 2],
                                   pred.peak_probs[0, took, [0, 1]], rtol=1e-5)
        # p(keypoint | peak) travels with the peaks (dumps can re-name offline)
        assert pred.peak_probs.shape == (1, head.decoder.max_peaks, head.max_keypoints)
        np.testing.assert_allclose(pred.peak_probs[0, :2].sum(-1), 1.0, atol=1e-5)
        np.testing.assert_allclose(pred.peak_probs[0, 0, 0] / pred.peak_probs[0, 0, 1], 1.5, rtol=1e-4)
        assert np.all(pred.peak_probs[0, 2:] == 0)
    np.testing.assert_allclose(named['argmax'][0], [4, 4])
    np.testing.assert_allclose(named['assignment'], [[4, 4], [12, 10]])


def test_probability_keypoint_choice_lets_two_keypoints_share_their_likeliest_peak():
    """Peak A is keypoint 0 or 1 (p 0.5 / 0.5), peak B keypoint 0, 1 or 2 (0.45 / 0.3 /
    0.25). The one-to-one names put keypoints 0 and 1 on different peaks; with
    keypoint_choice='probability' both take A, where each is likeliest, and keypoint 2
    takes B. The peaks' one-to-one names (peak_features) are unchanged."""
    start, n = category_slices()['car']
    conf = torch.zeros(1, 1, 16, 16)
    conf[0, 0, 4, 4], conf[0, 0, 10, 12] = 0.9, 0.8
    rest = torch.zeros(1, 2 + 12, 16, 16)
    logits = torch.full((12, ), -30.0)
    rest[0, 2:, 4, 4] = logits.index_put((torch.tensor([0, 1]), ), torch.tensor([0.5, 0.5]).log())
    rest[0, 2:, 10, 12] = logits.index_put((torch.tensor([0, 1, 2]), ),
                                           torch.tensor([0.45, 0.3, 0.25]).log())
    preds = {}
    for choice in ('feature', 'probability'):
        head = _head(identity='classification', identity_feature='assignment',
                     keypoint_choice=choice)
        preds[choice] = head.decode_outputs(conf, rest, _samples(head, batch=1))[0]
    by_prob = preds['probability'].keypoints[0, start:start + 3] / 4.0   # cells (x, y)
    np.testing.assert_allclose(by_prob, [[4, 4], [4, 4], [12, 10]])
    by_feature = preds['feature'].keypoints[0, start:start + 2] / 4.0
    assert not np.allclose(by_feature[0], by_feature[1])        # one-to-one: apart
    np.testing.assert_allclose(preds['probability'].peak_features,
                               preds['feature'].peak_features)
    np.testing.assert_allclose(preds['probability'].keypoint_name_scores[0, start:start + 3],
                               [0.5, 0.5, 0.25], rtol=1e-4)
    with pytest.raises(ValueError, match="keypoint_choice must be one of"):
        _head(identity='classification', keypoint_choice='nearest')
    with pytest.raises(ValueError, match="keypoint_choice='probability' needs "
                                         "identity='classification'"):
        _head(keypoint_choice='probability')


def test_assign_peak_identities_prefers_confident_peaks_and_keeps_the_rest():
    canon = np.array([[0.1, 0, 0], [-0.1, 0, 0]], np.float32)
    probs = np.array([[0.5, 0.5], [0.5, 0.5], [0.9, 0.1]])
    scores = np.array([0.9, 0.8, 0.06])   # a faint third peak: its high p(0) does not win
    base = np.full((3, 3), 0.25, np.float32)
    out = _head(identity='classification').assign_peak_identities(probs, scores, canon, base)
    assert {tuple(out[0]), tuple(out[1])} == {tuple(canon[0]), tuple(canon[1])}
    np.testing.assert_allclose(out[2], base[2])
    assert _head(identity='classification').assign_peak_identities(
        np.zeros((0, 2)), np.zeros(0), canon, np.zeros((0, 3))).shape == (0, 3)


def test_viewpoint_identity_feature_names_a_car_view_despite_mirror_logits():
    """Peaks at a car's camera-facing keypoints whose logits prefer each keypoint's
    mirror partner: the one-to-one assignment swaps the pairs, the head's viewpoint
    naming (crop pixels, box from gt_instances and input_scale) names them right and
    equals a direct ViewpointNaming call on the same peaks."""
    from mmengine.structures import InstanceData
    from kplink_mm.models.utils import ViewpointNaming
    from tests.models.utils.test_viewpoint_naming import mirror_confused_car_view
    canon = get_category('car').canonical_keypoints()
    start, n = category_slices()['car']
    model = get_category('car').mean_model()
    uv, visible, probs = mirror_confused_car_view(scale=25.0)     # input pixels
    assert np.all((uv > 4) & (uv < 124))
    codec = dict(CODEC, input_size=(128, 128), heatmap_size=(64, 64))
    conf = torch.zeros(1, 1, 64, 64)
    rest = torch.zeros(1, 2 + 12, 64, 64)
    for row, k in enumerate(visible):
        x, y = np.floor(uv[k] / 2.0).astype(int)       # stride 2
        conf[0, 0, y, x] = 0.9
        rest[0, 2:, y, x] = torch.from_numpy(np.log(probs[row])).float()
    samples = _samples(_head(identity='classification'), batch=1)
    lo, hi = uv.min(0), uv.max(0)
    samples[0].gt_instances = InstanceData(bboxes=np.r_[lo, hi][None])
    samples[0].set_metainfo(dict(input_size=(128, 128), input_scale=np.array([128.0, 128.0])))
    named = {}
    for mode in ('assignment', 'viewpoint'):
        head = _head(identity='classification', identity_feature=mode, decoder=codec)
        pred = head.decode_outputs(conf, rest, samples)[0]
        m = int((pred.peak_scores[0] > 0).sum())
        assert m == len(visible)
        peaks, feats = pred.peaks[0, :m], pred.peak_features[0, :m]
        # the keypoint each decoded peak was put at (one peak per visible keypoint)
        from scipy.optimize import linear_sum_assignment
        r, cidx = linear_sum_assignment(
            np.linalg.norm(peaks[:, None] - uv[visible][None], axis=-1))
        truth = list(visible[cidx[np.argsort(r)]])
        named[mode] = [int(np.argmin(np.linalg.norm(canon - f, axis=1))) for f in feats]
        if mode == 'viewpoint':
            rows, cols, _ = ViewpointNaming()(
                peaks, pred.peak_scores[0, :m], pred.peak_probs[0, :m, :n], model.keypoints,
                model.keypoint_normals, float((hi - lo).max()))
            assert [named[mode][r] for r in rows] == list(cols)
            assert named[mode] == truth
            np.testing.assert_allclose(pred.keypoints[0, start:start + n][visible],
                                       uv[visible], atol=2.0)
        else:
            assert named[mode] != truth   # appearance alone swaps the mirror pairs
    with pytest.raises(ValueError, match="identity='classification'"):
        _head(identity_feature='viewpoint')
    with pytest.raises(ValueError, match="'viewpoint'"):
        _head(identity='classification', identity_feature='pose')
    with pytest.raises(ValueError, match='viewpoint_naming'):
        _head(identity='classification', viewpoint_naming=dict(sigma=0.2))


def test_box_size_in_input_pixels():
    from mmengine.structures import InstanceData
    from kplink_mm.models.heads.cklm_head import _box_size_in_input
    s = PoseDataSample(metainfo=dict(input_size=(64, 64), input_scale=np.array([200.0, 200.0])))
    assert _box_size_in_input(s) == pytest.approx(64 / 1.25)   # no box: default padding
    s.gt_instances = InstanceData(bboxes=np.array([[10.0, 20.0, 110.0, 70.0]]))
    assert _box_size_in_input(s) == pytest.approx(100 * 64 / 200)
    with pytest.raises(KeyError, match='input_size'):
        _box_size_in_input(PoseDataSample(metainfo=dict(category_id=1)))


def test_naming_context_maps_the_box_and_the_image_into_the_crop():
    """A crop of 200 x 100 image pixels centred at (60, 45) resized to 64 x 32: image
    point (x, y) lands at ((x - 60) * 0.32 + 32, (y - 45) * 0.32 + 16)."""
    from mmengine.structures import InstanceData
    from kplink_mm.models.heads.cklm_head import _naming_context_in_input
    s = PoseDataSample(metainfo=dict(input_size=(64, 32), input_center=np.array([60.0, 45.0]),
                                     input_scale=np.array([200.0, 100.0]),
                                     ori_shape=(120, 160)))
    with pytest.raises(KeyError, match=r"\['gt_instances.bboxes'\]"):
        _naming_context_in_input(s)
    s.gt_instances = InstanceData(bboxes=np.array([[0.0, 20.0, 110.0, 70.0]]))
    ctx = _naming_context_in_input(s)
    np.testing.assert_allclose(ctx['box'], [12.8, 8.0, 48.0, 24.0])
    np.testing.assert_allclose(ctx['image_rect'], [12.8, 1.6, 64.0, 40.0])
    with pytest.raises(KeyError, match=r"\['input_center', 'ori_shape'\]"):
        _naming_context_in_input(PoseDataSample(metainfo=dict(
            input_size=(64, 32), input_scale=np.array([200.0, 100.0])),
            gt_instances=InstanceData(bboxes=np.zeros((1, 4)))))

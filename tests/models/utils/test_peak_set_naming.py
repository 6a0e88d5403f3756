import os.path as osp
import runpy

import numpy as np
import pytest
import torch

from kplink_mm.datasets.synth.categories import category_names, get_category
from kplink_mm.evaluation.functional import rename_record
from kplink_mm.models.utils import PeakSetNamer, PeakSetNaming
from kplink_mm.models.utils.peak_set_naming import (mirror_permutation, mirror_rect,
                                                    peak_set_inputs, peak_set_labels)
from tests.models.utils.test_viewpoint_naming import mirror_confused_car_view

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
TOOL = runpy.run_path(osp.join(REPO, 'tools/train_peak_naming.py'))
MAX_K = max(len(get_category(c).keypoint_names) for c in category_names())


def test_inputs_do_not_depend_on_the_crop_scale_and_shift():
    rng = np.random.default_rng(0)
    peaks, scores = rng.uniform(0, 100, (6, 2)), rng.uniform(0.1, 1, 6)
    probs = rng.dirichlet(np.ones(7), 6)
    a = peak_set_inputs(peaks, scores, probs, 80.0, MAX_K)
    b = peak_set_inputs(3.0 * peaks + np.array([40.0, -7.0]), scores, probs, 240.0, MAX_K)
    np.testing.assert_allclose(a, b, atol=1e-5)
    # score-weighted centroid at the origin; padded keypoint slots read as impossible
    np.testing.assert_allclose((scores[:, None] * a[:, :2]).sum(0), 0, atol=1e-5)
    assert np.all(a[:, 3 + 7:3 + MAX_K] == 0) and np.all(a[:, 3 + MAX_K + 7:] == -1)
    with pytest.raises(ValueError, match='box_size'):
        peak_set_inputs(peaks, scores, probs, 0.0, MAX_K)
    with pytest.raises(ValueError, match='more than max_keypoints=5'):
        peak_set_inputs(peaks, scores, probs, 80.0, 5)


def test_labels_match_peaks_to_labelled_keypoints_one_to_one_within_the_radius():
    gt = np.array([[0.0, 0.0], [10.0, 0.0], [50.0, 50.0]])
    peaks = np.array([[1.0, 0.0], [2.0, 0.0], [30.0, 30.0], [9.0, 1.0]])
    labels = peak_set_labels(peaks, gt, np.array([True, True, True]), radius=3.0)
    # the two peaks near keypoint 0 cannot both take it; the far peak takes nothing
    np.testing.assert_array_equal(labels, [0, -1, -1, 1])
    labels = peak_set_labels(peaks, gt, np.array([False, True, True]), radius=3.0)
    np.testing.assert_array_equal(labels, [-1, -1, -1, 1])
    assert len(peak_set_labels(np.zeros((0, 2)), gt, np.ones(3, bool), 3.0)) == 0


def test_namer_masks_the_slots_a_category_does_not_have():
    namer = PeakSetNamer(num_categories=10, max_keypoints=MAX_K, embed_dims=16)
    logits = namer(torch.randn(2, 5, 3 + 2 * MAX_K), torch.tensor([0, 3]),
                   torch.tensor([7, MAX_K]), torch.zeros(2, 5, dtype=torch.bool))
    assert logits.shape == (2, 5, MAX_K + 1)
    assert torch.isinf(logits[0, :, 7:MAX_K]).all() and torch.isfinite(logits[0, :, -1]).all()
    assert torch.isfinite(logits[1]).all()


def _confused_car_records(azimuths):
    """Dump-like records of car views whose logits prefer every keypoint's mirror."""
    records = []
    for i, az in enumerate(azimuths):
        uv, visible, confused = mirror_confused_car_view(azimuth=float(az), scale=50.0,
                                                         shift=(100.0, 80.0))
        m = len(visible)
        probs, peaks, scores = np.zeros((24, 12)), np.zeros((24, 2)), np.zeros(24)
        probs[:m], peaks[:m], scores[:m] = confused, uv[visible], 0.9
        lo, hi = uv.min(0), uv.max(0)
        records.append(dict(category='car', bbox=np.r_[lo, hi], gt_keypoints=uv,
                            states=np.isin(np.arange(12), visible).astype(int) * 2,
                            pred_keypoints=np.zeros((12, 2)), pred_scores=np.zeros(12),
                            peaks=peaks, peak_scores=scores, peak_probs=probs, img_id=i))
    return records


def _visible_error(records):
    err = [np.linalg.norm(r['pred_keypoints'] - r['gt_keypoints'], axis=1)[r['states'] == 2]
           for r in records]
    return float(np.mean(np.concatenate(err) > 1.0))


def test_training_on_the_heads_mistakes_teaches_the_namer_to_undo_them(tmp_path):
    """Logits that always prefer the mirror partner: the one-to-one assignment names
    most visible keypoints wrongly; a namer trained on such peaks (the training tool's
    own functions) learns the set's consistent naming, saves, reloads and names
    held-out views right."""
    torch.manual_seed(0)
    categories = list(category_names())
    train_records = _confused_car_records(np.arange(0, 360, 15))
    test_records = _confused_car_records(np.arange(7, 360, 45))
    examples = TOOL['build_examples'](train_records, categories, MAX_K, radius=0.1)
    assert len(examples[0]) == 2 * len(train_records)          # mirrored copies
    namer = PeakSetNamer(num_categories=len(categories), max_keypoints=MAX_K, embed_dims=32)
    TOOL['train'](examples, namer, epochs=80, batch_size=16, lr=3e-3, seed=0,
                  log=lambda *_: None)
    ckpt = str(tmp_path / 'namer.pth')
    torch.save(dict(meta=dict(namer=dict(num_categories=len(categories), max_keypoints=MAX_K,
                                         embed_dims=32), categories=categories),
                    state_dict=namer.state_dict()), ckpt)
    naming = PeakSetNaming(checkpoint=ckpt)
    before = _visible_error([rename_record(r, 'assignment') for r in test_records])
    after = _visible_error([rename_record(r, naming) for r in test_records])
    assert before > 0.5 and after < 0.15, (before, after)


def test_peak_set_naming_errors_name_the_file_and_the_value(tmp_path):
    bad = tmp_path / 'bad.pth'
    torch.save({'state_dict': {}}, str(bad))
    with pytest.raises(ValueError, match='bad.pth: not a peak-naming checkpoint'):
        PeakSetNaming(checkpoint=str(bad))
    with pytest.raises(ValueError, match='missing.pth: not a peak-naming checkpoint'):
        PeakSetNaming(checkpoint=str(tmp_path / 'missing.pth'))
    with pytest.raises(ValueError, match='exactly one of checkpoint or namer'):
        PeakSetNaming()
    naming = PeakSetNaming(namer=PeakSetNamer(2, MAX_K, embed_dims=16),
                           categories=['car', 'bus'])
    with pytest.raises(ValueError, match="category 'chair' is not one the peak namer"):
        naming(np.zeros((2, 2)), np.ones(2), np.full((2, 10), 0.1), 'chair', 50.0)
    rows, cols = naming(np.zeros((0, 2)), np.zeros(0), np.zeros((0, 12)), 'car', 50.0)
    assert len(rows) == len(cols) == 0


def test_no_keypoint_penalty_names_the_peak_the_namer_hesitates_on():
    """Peak 0 is keypoint 0 with p = 0.3 and "no keypoint" with p = 0.6. The namer's own
    posterior leaves it unnamed, so keypoint 0 falls back to the nearest softmax-mean
    feature (peak 1, named nothing useful); a penalty above log(0.6 / 0.3) names peak 0."""
    spec = get_category('car')
    n = len(spec.keypoint_names)
    logp = np.full((2, n + 1), np.log(1e-3))
    logp[0, 0], logp[0, n] = np.log(0.3), np.log(0.6)
    logp[1, 1], logp[1, n] = np.log(0.9), np.log(0.05)
    peaks = np.array([[10.0, 10.0], [40.0, 30.0]])
    probs = np.full((2, n), 1.0 / n)
    features = (probs @ spec.canonical_keypoints()).astype(np.float32)
    names = {}
    for penalty in (0.0, 0.5, 1.0):
        naming = PeakSetNaming(namer=PeakSetNamer(10, MAX_K, embed_dims=16),
                               no_keypoint_penalty=penalty)
        naming.log_probs = lambda *args, **kwargs: logp
        rows, cols = naming(peaks, np.ones(2), probs, 'car', 50.0)
        names[penalty] = dict(zip(rows.tolist(), cols.tolist()))
        out = naming.name_features(peaks, np.ones(2), probs, spec, 50.0, features)
        named_0 = np.allclose(out[0], spec.canonical_keypoints()[0])
        assert named_0 == (penalty > np.log(2)), penalty
    assert names[0.0] == {1: 1} and names[0.5] == {1: 1}
    assert names[1.0] == {0: 0, 1: 1}
    for bad in (float('nan'), float('inf'), 'two'):
        with pytest.raises(ValueError, match='no_keypoint_penalty must be a finite number'):
            PeakSetNaming(namer=PeakSetNamer(10, MAX_K, embed_dims=16),
                          no_keypoint_penalty=bad)


def test_head_loads_the_namer_on_first_use_and_checks_its_arguments(tmp_path):
    from tests.models.heads.test_cklm_head import _head
    head = _head(identity='classification', identity_feature='set',
                 peak_naming=dict(checkpoint=str(tmp_path / 'not_yet.pth')))
    assert head._peak_naming is None          # built without the file
    with pytest.raises(ValueError, match='not_yet.pth'):
        head.peak_naming
    with pytest.raises(ValueError, match="goes with identity_feature='set'"):
        _head(identity='classification', identity_feature='set')
    with pytest.raises(ValueError, match="goes with identity_feature='set'"):
        _head(identity='classification', peak_naming=dict(checkpoint='x.pth'))
    with pytest.raises(ValueError, match="needs identity='classification'"):
        _head(identity_feature='set', peak_naming=dict(checkpoint='x.pth'))


def test_viewpoint_prior_names_are_one_hot_inputs():
    from kplink_mm.models.utils.viewpoint_naming import ViewpointNaming
    from kplink_mm.models.utils.peak_set_naming import viewpoint_prior_names
    uv, visible, confused = mirror_confused_car_view(azimuth=30.0, scale=50.0,
                                                     shift=(100.0, 80.0))
    peaks, scores = uv[visible], np.full(len(visible), 0.9)
    names = viewpoint_prior_names(ViewpointNaming(), peaks, scores, confused,
                                  get_category('car'), 50.0)
    # the rigid prior undoes the mirror confusion the logits carry
    np.testing.assert_array_equal(names, visible)
    feats = peak_set_inputs(peaks, scores, confused, 50.0, MAX_K, names)
    assert feats.shape == (len(visible), 3 + 3 * MAX_K)
    np.testing.assert_array_equal(feats[:, 3 + 2 * MAX_K:].argmax(1), visible)
    assert np.all(feats[:, 3 + 2 * MAX_K:].sum(1) == 1)
    unnamed = peak_set_inputs(peaks, scores, confused, 50.0, MAX_K, np.full(len(visible), -1))
    assert np.all(unnamed[:, 3 + 2 * MAX_K:] == 0)
    empty = viewpoint_prior_names(ViewpointNaming(), np.zeros((0, 2)), np.zeros(0),
                                  np.zeros((0, 12)), get_category('car'), 50.0)
    assert empty.shape == (0, )


def test_tool_trains_a_namer_on_the_viewpoint_prior_and_the_checkpoint_carries_it(
        tmp_path, monkeypatch):
    """The tool's main() end to end on a tiny dump: --viewpoint-prior makes a namer
    with prior inputs, the checkpoint's meta rebuilds the same prior, and a namer and
    a prior that do not go together are refused."""
    records = _confused_car_records(np.arange(0, 360, 30))
    monkeypatch.setitem(TOOL['main'].__globals__, 'load_records', lambda path: records)
    ckpt = str(tmp_path / 'prior_namer.pth')
    results = TOOL['main'](['dump.pkl', '--out', ckpt, '--epochs', '40', '--embed-dims', '16',
                            '--batch-size', '8', '--lr', '3e-3', '--viewpoint-prior', '{}',
                            '--eval', 'dump.pkl'])
    naming = PeakSetNaming(checkpoint=ckpt)
    assert naming.namer.prior_inputs and naming.viewpoint_prior is not None
    # the prior alone names these views right, so the namer must do at least as well
    assert results['dump.pkl']['PCK'] > 0.9, results
    with pytest.raises(ValueError, match='do not go together'):
        PeakSetNaming(namer=naming.namer, categories=naming.categories)
    with pytest.raises(ValueError, match='do not go together'):
        PeakSetNaming(namer=PeakSetNamer(len(naming.categories), MAX_K, embed_dims=16),
                      categories=naming.categories, viewpoint_prior={})
    with pytest.raises(SystemExit, match='--viewpoint-prior'):
        TOOL['main'](['dump.pkl', '--out', ckpt, '--viewpoint-prior', '{"no_such": 1}'])


def test_keypoint_peak_targets_let_keypoints_share_a_peak_and_follow_the_mirror():
    """Keypoints 0 and 1 lie within the radius of peak 0 only: both target it (the
    one-to-one labels give one of them nothing); keypoint 2 is unlabelled, keypoint 3
    has no peak within the radius. In the mirror each target moves to the keypoint's
    flip partner."""
    spec = get_category('car')
    n = len(spec.keypoint_names)
    gt = np.full((n, 2), 500.0)
    gt[0], gt[1], gt[2], gt[3] = [10, 10], [13, 10], [40, 40], [80, 80]
    labelled = np.zeros(n, bool)
    labelled[[0, 1, 3]] = True
    peaks = np.array([[11.0, 10.0], [40.0, 41.0], [60.0, 60.0]])
    targets = TOOL['keypoint_peak_targets'](peaks, gt, labelled, radius=5.0)
    assert targets[:4].tolist() == [0, 0, -1, -1] and (targets[4:] == -1).all()
    labels = peak_set_labels(peaks, gt, labelled, 5.0)
    assert labels.tolist() == [0, -1, -1]                       # one-to-one: 1 is left out
    *_, mirrored = TOOL['_mirror'](spec, peaks, np.full((3, n), 1.0 / n), labels,
                                   None, targets)
    partner = dict(spec.flip_pairs + tuple((j, i) for i, j in spec.flip_pairs))
    for k in range(n):
        assert mirrored[partner.get(k, k)] == targets[k]


def test_keypoint_choice_loss_trains_each_keypoints_likeliest_peak():
    """Minimising the loss alone makes p(keypoint | target peak) the largest down each
    keypoint's column, so identify_keypoints_by_probability picks the target peak;
    padding rows and unlabelled keypoints (-100) are ignored."""
    torch.manual_seed(0)
    logits = torch.randn(1, 4, 3 + 1, requires_grad=True)
    padding = torch.tensor([[False, False, False, True]])
    targets = torch.tensor([[2, 2, -100]])          # keypoints 0 and 1 share peak 2
    opt = torch.optim.Adam([logits], lr=0.1)
    first = None
    for _ in range(100):
        loss = TOOL['keypoint_choice_loss'](logits, padding, targets)
        first = float(loss) if first is None else first
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert float(loss) < 0.1 * first
    probs = torch.softmax(logits.detach(), -1)[0, :3, :3].numpy()
    from kplink_mm.evaluation.functional import identify_keypoints_by_probability
    _, _, chosen = identify_keypoints_by_probability(np.zeros((4, 2)), np.array([1, 1, 1, 0]),
                                                     probs)
    assert chosen[:2].tolist() == [2, 2]
    none = TOOL['keypoint_choice_loss'](logits, padding, torch.full((1, 3), -100))
    assert float(none) == 0.0


def test_tool_holds_out_whole_images_and_compares_the_namings_on_them(tmp_path, monkeypatch,
                                                                     capsys):
    records = _confused_car_records(np.arange(0, 360, 20))
    for r in records:
        r['img_id'] //= 2                             # two targets per image
    fit, held = TOOL['split_holdout'](records, 3)
    assert {r['img_id'] for r in held} == {0, 3, 6}
    assert not {r['img_id'] for r in fit} & {r['img_id'] for r in held}
    assert len(fit) + len(held) == len(records)
    monkeypatch.setitem(TOOL['main'].__globals__, 'load_records', lambda path: records)
    ckpt = str(tmp_path / 'namer.pth')
    results = TOOL['main'](['dump.pkl', '--out', ckpt, '--epochs', '60', '--embed-dims', '32',
                            '--batch-size', '8', '--lr', '3e-3', '--holdout-every', '3',
                            '--no-keypoint-penalty', '0', '2',
                            '--keypoint-choice', 'feature', 'probability',
                            '--keypoint-loss-weight', '0.5', '--mirror-test'])
    out = capsys.readouterr().out
    assert 'assignment' in out and 'viewpoint' in out
    # one held-out row per "no keypoint" penalty, mirror test and keypoint choice, to
    # choose them on training images
    rows = {f'set (this namer) p{p}{m}{c}' for p in (0, 2) for m in ('', ' mirror')
            for c in ('', ' by-prob')}
    assert set(results['holdout_rows']) == rows and all(r in out for r in rows)
    assert torch.load(ckpt)['meta']['trained_on']['targets'] == len(fit)
    assert results['holdout_rows']['set (this namer) p0']['PCK'] > 0.85, results
    assert torch.load(ckpt)['meta']['trained_on']['keypoint_loss_weight'] == 0.5
    with pytest.raises(SystemExit, match='--keypoint-loss-weight: expected a finite number'):
        TOOL['main'](['dump.pkl', '--out', ckpt, '--keypoint-loss-weight', '-1'])
    with pytest.raises(SystemExit, match='--no-keypoint-penalty: expected finite numbers'):
        TOOL['main'](['dump.pkl', '--out', ckpt, '--no-keypoint-penalty', 'nan'])
    with pytest.raises(SystemExit, match='--holdout-every must be >= 2'):
        TOOL['main'](['dump.pkl', '--out', ckpt, '--holdout-every', '1'])


def test_tool_pools_several_training_dumps_and_keeps_their_images_apart(tmp_path, monkeypatch,
                                                                       capsys):
    """Two dumps (e.g. train and an extra training split) whose img_ids overlap: the namer
    is fitted on both, and a held-out image is one image of one dump, not every image
    that shares its id."""
    dumps = {'a.pkl': _confused_car_records(np.arange(0, 360, 30)),
             'b.pkl': _confused_car_records(np.arange(15, 360, 30))}
    assert {r['img_id'] for r in dumps['a.pkl']} == {r['img_id'] for r in dumps['b.pkl']}
    monkeypatch.setitem(TOOL['main'].__globals__, 'load_records',
                        lambda path: [dict(r) for r in dumps[path]])
    ckpt = str(tmp_path / 'namer.pth')
    TOOL['main'](['a.pkl', 'b.pkl', '--out', ckpt, '--epochs', '2', '--embed-dims', '16'])
    trained_on = torch.load(ckpt)['meta']['trained_on']
    assert trained_on['targets'] == 24 and trained_on['dumps'] == ['a.pkl', 'b.pkl']
    assert 'a.pkl + b.pkl: 24 targets' in capsys.readouterr().out

    records = TOOL['load_training_records'](['a.pkl', 'b.pkl'])
    fit, held = TOOL['split_holdout'](records, 5)
    assert len(fit) + len(held) == 24
    held_keys = {(r['_dump'], r['img_id']) for r in held}
    assert len(held_keys) == len(held) == 5              # every 5th of 24 distinct images
    assert not held_keys & {(r['_dump'], r['img_id']) for r in fit}
    # an image id held out in one dump stays in the fit set of the other
    assert {r['img_id'] for r in held} & {r['img_id'] for r in fit}


def test_context_inputs_place_the_peaks_in_the_box_and_the_box_in_the_image():
    """Context features: invariant to the crop's scale and shift, as the rest; a box
    that touches the image border has margin 0 on that side; a mirrored target
    (peaks, box and image mirrored together, as the training tool's copies) reads
    the same with x negated and left/right margins swapped."""
    from kplink_mm.models.utils.peak_set_naming import CONTEXT_DIMS
    rng = np.random.default_rng(1)
    peaks, scores = rng.uniform(10, 90, (5, 2)), rng.uniform(0.1, 1, 5)
    probs = rng.dirichlet(np.ones(7), 5)
    box, rect = np.array([0.0, 10.0, 100.0, 90.0]), np.array([0.0, 0.0, 256.0, 256.0])
    a = peak_set_inputs(peaks, scores, probs, 100.0, MAX_K, box=box, image_rect=rect)
    assert a.shape == (5, 3 + 2 * MAX_K + CONTEXT_DIMS)
    np.testing.assert_allclose(a[:, :3 + 2 * MAX_K],
                               peak_set_inputs(peaks, scores, probs, 100.0, MAX_K))
    ctx = a[:, -CONTEXT_DIMS:]
    np.testing.assert_allclose(ctx[:, 0:2], (peaks - [50.0, 50.0]) / 100.0, atol=1e-6)
    np.testing.assert_allclose(ctx[0, 2:4], [1.0, 0.8])
    # box margins (left, right, top, bottom): touches the left border; 156 px is "far"
    np.testing.assert_allclose(ctx[0, 4:8], [0.0, 1.0, 0.1, 1.0], atol=1e-6)
    np.testing.assert_allclose(ctx[:, 8], np.clip(peaks[:, 0] / 100.0, 0, 1), atol=1e-6)

    def crop(x):      # image -> a crop 3x larger, shifted
        return 3.0 * np.asarray(x).reshape(-1, 2) + np.array([40.0, -7.0])

    b = peak_set_inputs(crop(peaks), scores, probs, 300.0, MAX_K,
                        box=crop(box).reshape(4), image_rect=crop(rect).reshape(4))
    np.testing.assert_allclose(a, b, atol=1e-5)

    mirror = mirror_rect
    m = peak_set_inputs(peaks * [-1.0, 1.0], scores, probs, 100.0, MAX_K,
                        box=mirror(box), image_rect=mirror(rect))[:, -CONTEXT_DIMS:]
    np.testing.assert_allclose(m[:, 0], -ctx[:, 0], atol=1e-6)
    np.testing.assert_allclose(m[:, [4, 5, 8, 9]], ctx[:, [5, 4, 9, 8]], atol=1e-6)
    np.testing.assert_allclose(m[:, [1, 2, 3, 6, 7, 10, 11]],
                               ctx[:, [1, 2, 3, 6, 7, 10, 11]], atol=1e-6)
    with pytest.raises(ValueError, match='both box and image_rect'):
        peak_set_inputs(peaks, scores, probs, 100.0, MAX_K, box=box)
    with pytest.raises(ValueError, match=r'box must be x1, y1, x2, y2.*\[100.0, 10.0, 0.0'):
        peak_set_inputs(peaks, scores, probs, 100.0, MAX_K, box=box[[2, 1, 0, 3]],
                        image_rect=rect)
    with pytest.raises(ValueError, match='image_rect must be'):
        peak_set_inputs(peaks, scores, probs, 100.0, MAX_K, box=box, image_rect=np.zeros(4))


def test_tool_trains_a_namer_with_context_inputs_and_renaming_reads_the_image_size(
        tmp_path, monkeypatch):
    """--context-inputs end to end on a tiny dump: the checkpoint's namer reads the
    context, re-naming a record uses its box and ori_shape, and a record without
    ori_shape is refused by name (in the tool and in the re-naming)."""
    records = _confused_car_records(np.arange(0, 360, 30))
    for r in records:
        r['ori_shape'] = (256, 256)
    monkeypatch.setitem(TOOL['main'].__globals__, 'load_records',
                        lambda path: [dict(r) for r in records])
    ckpt = str(tmp_path / 'context_namer.pth')
    results = TOOL['main'](['dump.pkl', '--out', ckpt, '--epochs', '60', '--embed-dims', '32',
                            '--batch-size', '8', '--lr', '3e-3', '--context-inputs',
                            '--eval', 'dump.pkl'])
    naming = PeakSetNaming(checkpoint=ckpt)
    assert naming.needs_context and naming.namer.context_inputs
    assert results['dump.pkl']['PCK'] > 0.85, results
    # the context is read: another image size changes the namer's probabilities
    r = records[0]
    real = r['peak_scores'] > 0
    args = (r['peaks'][real], r['peak_scores'][real], r['peak_probs'][real], 'car', 50.0)
    near = naming.log_probs(*args, context=dict(box=r['bbox'], image_rect=[0, 0, 256, 256]))
    cut = naming.log_probs(*args, context=dict(box=r['bbox'],
                                               image_rect=r['bbox'] + [0, 0, 0, 1e-3]))
    assert not np.allclose(near, cut)
    with pytest.raises(ValueError, match='trained with context inputs'):
        naming.log_probs(*args)
    bare = dict(records[0])
    del bare['ori_shape']
    with pytest.raises(ValueError, match="record of image 0 has no ori_shape"):
        rename_record(bare, naming)
    monkeypatch.setitem(TOOL['main'].__globals__, 'load_records', lambda path: [bare])
    with pytest.raises(SystemExit, match='dump.pkl: record of image 0 has no ori_shape'):
        TOOL['main'](['dump.pkl', '--out', ckpt, '--epochs', '1', '--context-inputs'])


def _random_target(n, m=7, seed=0):
    rng = np.random.default_rng(seed)
    peaks = rng.uniform(20, 120, (m, 2))
    return peaks, rng.uniform(0.2, 1, m), rng.dirichlet(np.ones(n), m)


def test_an_ensemble_averages_its_namers_probabilities(tmp_path):
    """Two namers as one ``PeakSetNaming``: p = the mean of the members' p, for the
    names and the "no keypoint" column; the checkpoints' category orders must agree."""
    cats = list(category_names())
    torch.manual_seed(0)
    namers = [PeakSetNamer(len(cats), MAX_K, embed_dims=16) for _ in range(2)]
    spec = get_category('bus')
    n = len(spec.keypoint_names)
    peaks, scores, probs = _random_target(n)
    each = [PeakSetNaming(namer=x).log_probs(peaks, scores, probs, 'bus', 60.0) for x in namers]
    both = PeakSetNaming(namer=namers).log_probs(peaks, scores, probs, 'bus', 60.0)
    np.testing.assert_allclose(np.exp(both), (np.exp(each[0]) + np.exp(each[1])) / 2,
                               rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(np.exp(both).sum(1), 1.0, atol=1e-5)
    paths = []
    for i, (namer, order) in enumerate(zip(namers, (cats, cats[::-1]))):
        paths.append(str(tmp_path / f'n{i}.pth'))
        torch.save(dict(meta=dict(namer=dict(num_categories=len(cats), max_keypoints=MAX_K,
                                             embed_dims=16), categories=order),
                        state_dict=namer.state_dict()), paths[-1])
    with pytest.raises(ValueError, match='n1.pth: its namer was trained on categories'):
        PeakSetNaming(checkpoint=paths)
    with pytest.raises(ValueError, match='empty list'):
        PeakSetNaming(checkpoint=[])
    with pytest.raises(ValueError, match='empty list of peak namers'):
        PeakSetNaming(namer=[])
    loaded = PeakSetNaming(checkpoint=[paths[0], paths[0]])
    np.testing.assert_allclose(loaded.log_probs(peaks, scores, probs, 'bus', 60.0), each[0],
                               atol=1e-5)


@pytest.mark.parametrize('context_inputs', [False, True])
def test_mirror_test_makes_the_naming_mirror_equivariant(context_inputs):
    """With ``mirror_test`` a target and its mirror image get the same names up to the
    left/right swap, exactly, whatever the namer's weights: the average of a view and
    its mirror is symmetric by construction. Without it a random namer is not."""
    torch.manual_seed(1)
    namer = PeakSetNamer(len(category_names()), MAX_K, embed_dims=16,
                         context_inputs=context_inputs)
    spec = get_category('car')
    n = len(spec.keypoint_names)
    perm = mirror_permutation(spec)
    assert sorted(perm.tolist()) == list(range(n)) and np.all(perm[perm] == np.arange(n))
    peaks, scores, probs = _random_target(n, seed=2)
    ctx = dict(box=np.array([15.0, 10.0, 130.0, 125.0]), image_rect=np.array([0, 0, 200.0, 150]))
    mirrored = (peaks * [-1.0, 1.0], scores, probs[:, perm])
    mctx = {k: mirror_rect(v) for k, v in ctx.items()}
    extra, mextra = ((dict(context=ctx), dict(context=mctx)) if context_inputs else ({}, {}))
    for mirror_test in (False, True):
        naming = PeakSetNaming(namer=namer, mirror_test=mirror_test)
        a = naming.log_probs(peaks, scores, probs, 'car', 60.0, **extra)
        b = naming.log_probs(*mirrored, 'car', 60.0, **mextra)
        equivariant = np.allclose(a[:, :n], b[:, perm], atol=1e-5) and np.allclose(
            a[:, n], b[:, n], atol=1e-5)
        assert equivariant == mirror_test
    with pytest.raises(ValueError, match='mirror_test must be True or False'):
        PeakSetNaming(namer=namer, mirror_test='yes')

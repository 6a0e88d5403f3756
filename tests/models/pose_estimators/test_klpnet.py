"""KLPNet: CKLM keypoints + CLPGM links on real kplink-synth top-down samples."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIG = osp.join(REPO, 'configs/klpnet/klpnet_res18_cpu_kplink-synth-128x128.py')

pytestmark = pytest.mark.usefixtures('one_torch_thread')  # tiny tensors


def _build(**overrides):
    from mmpose.registry import MODELS

    import kplink_mm  # noqa: F401
    init_default_scope('mmpose')
    cfg = Config.fromfile(CONFIG)
    cfg.model.update(overrides)
    model = MODELS.build(cfg.model)
    model.init_weights()
    return cfg, model


def _batch(cfg, data_root, n=4, train=True, pipeline=None):
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import DATASETS
    loader = cfg.train_dataloader if train else cfg.val_dataloader
    ds_cfg = loader.dataset.copy()
    ds_cfg.update(data_root=data_root, ann_file=f"annotations/{'train' if train else 'val'}"
                  '.json')
    if pipeline is not None:
        ds_cfg.pipeline = pipeline
    ds = DATASETS.build(ds_cfg)
    return pseudo_collate([ds[i] for i in range(n)])


def test_joint_training_has_both_terms_of_eq8(tiny_synth):
    cfg, model = _build(loss_weights=dict(keypoint=1.0, link=0.5))
    model.train()
    data = model.data_preprocessor(_batch(cfg, tiny_synth), training=True)
    losses = model(**data, mode='loss')
    assert {'loss_conf_s1', 'loss_link_recon', 'loss_link_kl'} <= set(losses)
    total = sum(v for k, v in losses.items() if k.startswith('loss'))
    total.backward()
    assert model.backbone.conv1.weight.grad is not None
    assert model.backbone.conv1.weight.grad.abs().sum() > 0
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.link_head.parameters())


def test_link_weight_beta_scales_the_link_loss(tiny_synth):
    torch.manual_seed(0)
    cfg, model = _build(loss_weights=dict(keypoint=1.0, link=1.0))
    cfg2, model2 = _build(loss_weights=dict(keypoint=1.0, link=0.25))
    model2.load_state_dict(model.state_dict())
    model.link_head.position_jitter = model2.link_head.position_jitter = 0.0
    model.link_head.canonical_jitter = model2.link_head.canonical_jitter = 0.0
    model.eval(), model2.eval()  # z = mu: deterministic
    data = model.data_preprocessor(_batch(cfg, tiny_synth), training=True)
    a = model.loss(data['inputs'], data['data_samples'])
    b = model2.loss(data['inputs'], data['data_samples'])
    assert b['loss_link_recon'].item() == pytest.approx(0.25 * a['loss_link_recon'].item(),
                                                        rel=1e-5)
    assert b['loss_conf_s1'].item() == pytest.approx(a['loss_conf_s1'].item(), rel=1e-5)


def test_stage_wise_training_only_learns_links(tiny_synth):
    torch.manual_seed(0)
    np.random.seed(0)   # the train pipeline's random flips / affines
    cfg, model = _build(freeze_keypoint_model=True)
    model.train()
    assert not model.backbone.training and not model.head.training  # BN frozen too
    assert not any(p.requires_grad for p in model.backbone.parameters())
    data = model.data_preprocessor(_batch(cfg, tiny_synth), training=True)
    frozen = {k: v.clone() for k, v in model.state_dict().items()
              if not k.startswith('link_head')}
    # the configs' link-head rate (Adam 2e-3 x lr_mult 5)
    optim = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    first = None
    for _ in range(25):
        losses = model(**data, mode='loss')
        assert not any(k.startswith('loss_conf') for k in losses)
        loss = losses['loss_link_recon'] + losses['loss_link_kl']
        first = loss.item() if first is None else first
        optim.zero_grad()
        loss.backward()
        optim.step()
    # measured last / first: seeds 0-3 0.42-0.70 (seed 0: 0.51)
    assert loss.item() < 0.8 * first, (first, loss.item())
    for k, v in model.state_dict().items():
        if k in frozen:
            assert torch.equal(v, frozen[k]), k      # BN statistics included


def test_predict_returns_links_in_union_slots(tiny_synth):
    from kplink_mm.datasets.metainfo import category_slices
    from kplink_mm.datasets.synth.categories import get_category
    from kplink_mm.models.pose_estimators import KLPNet
    cfg, model = _build()
    model.eval()
    data = model.data_preprocessor(_batch(cfg, tiny_synth, n=3, train=False),
                                   training=False)
    with torch.no_grad():
        samples = model(**data, mode='predict')
    slices = category_slices()
    for sample in samples:
        pred = sample.pred_instances
        spec = get_category(int(np.asarray(sample.metainfo['category_id']).reshape(-1)[0]))
        start, count = slices[spec.name]
        pairs, scores = np.asarray(pred.link_pairs), np.asarray(pred.link_scores)
        assert pairs.ndim == 3 and pairs.shape[0] == 1 and pairs.shape[2] == 2
        assert scores.shape == pairs.shape[:2]
        assert ((scores >= 0) & (scores <= 1)).all()
        known = pairs[pairs >= 0]
        assert ((known >= start) & (known < start + count)).all()
        assert int(pred.category_id[0]) == spec.id
        assert pred.keypoints.shape[1] == sum(n for _, n in slices.values())
        for a, b, p in KLPNet.links_of(pred, slices, threshold=0.0):
            assert a in spec.keypoint_names and b in spec.keypoint_names and 0 <= p <= 1


@pytest.mark.parametrize('train_nodes', ['gt', 'peaks'])
def test_missing_transformed_keypoints_is_a_clear_error(tiny_synth, train_nodes):
    cfg, model = _build(train_nodes=train_nodes)
    pipeline = [dict(t) for t in cfg.train_dataloader.dataset.pipeline]
    pipeline[-1] = dict(type='PackPoseInputs')  # no pack_transformed
    data = model.data_preprocessor(_batch(cfg, tiny_synth, n=2, pipeline=pipeline),
                                   training=True)
    with pytest.raises(KeyError, match='pack_transformed=True'):
        model(**data, mode='loss')


def test_unknown_loss_weight_is_rejected():
    with pytest.raises(KeyError, match='lnk'):
        _build(loss_weights=dict(lnk=1.0))


def _fake_peaks_on_keypoints(samples, slices):
    """CKLM output for each crop: peaks 0.5 px from the first half of its labelled
    keypoints, named in reverse order (every name wrong but the middle one), plus one
    peak far outside the crop named after a labelled keypoint it does not lie on."""
    from mmengine.structures import InstanceData

    from kplink_mm.datasets.synth.categories import get_category
    preds, expected = [], []
    for sample in samples:
        spec = get_category(int(np.asarray(sample.metainfo['category_id']).reshape(-1)[0]))
        start, count = slices[spec.name]
        kpts = np.asarray(sample.gt_instances.transformed_keypoints)[0][start:start + count]
        vis = np.asarray(sample.gt_instances.keypoints_visible)[0][start:start + count]
        w, h = sample.metainfo['input_size']
        inside = (vis > 0) & (kpts[:, 0] >= 0) & (kpts[:, 0] < w) & (kpts[:, 1] >= 0) & \
            (kpts[:, 1] < h)
        labelled = np.nonzero(inside)[0]
        assert len(labelled) >= 3, 'the tiny set should have 3+ keypoints per crop'
        on, far_name = labelled[:len(labelled) // 2 + 1], labelled[-1]
        canon = spec.canonical_keypoints()
        peaks = np.concatenate([kpts[on] + [0.5, 0.0], [[-50.0, -50.0]]]).astype(np.float32)
        feats = np.concatenate([canon[on[::-1]], canon[[far_name]]]).astype(np.float32)
        preds.append(InstanceData(peaks=peaks[None], peak_scores=np.full((1, len(peaks)), 0.9),
                                  peak_features=feats[None]))
        expected.append(dict(zip(range(len(peaks)), list(on) + [-1])))
    return preds, expected


def test_peak_nodes_take_the_keypoint_they_lie_on(tiny_synth, monkeypatch):
    from kplink_mm.datasets.metainfo import category_slices
    torch.manual_seed(0)
    np.random.seed(0)
    cfg, model = _build(freeze_keypoint_model=True, train_nodes='peaks')
    model.train()
    data = model.data_preprocessor(_batch(cfg, tiny_synth, n=3), training=True)
    preds, expected = _fake_peaks_on_keypoints(data['data_samples'], category_slices())
    monkeypatch.setattr(model.head, 'predict', lambda feats, samples, test_cfg: preds)
    graphs = model._peak_graph_inputs(None, data['data_samples'])
    for graph, exp in zip(graphs, expected):
        # every peak is a node (each is some slot's nearest feature); its target slot
        # is where it lies, not its (reversed) name; the far peak lies on nothing
        assert sorted(graph['peak_index'].tolist()) == sorted(exp)
        assert graph['slots'].tolist() == [exp[p] for p in graph['peak_index'].tolist()]
    losses = model(**data, mode='loss')
    assert not any(k.startswith('loss_conf') for k in losses)
    assert torch.isfinite(losses['loss_link_recon']) and losses['loss_link_recon'] > 0
    (losses['loss_link_recon'] + losses['loss_link_kl']).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0
               for p in model.link_head.parameters())

    # 'both': one ground-truth graph and one peak graph per crop
    model.train_nodes = 'both'
    seen = []
    real_forward = model.link_head.forward
    monkeypatch.setattr(model.link_head, 'forward',
                        lambda feats, inputs: seen.append(len(inputs)) or
                        real_forward(feats, inputs))
    model(**data, mode='loss')
    assert seen == [2 * len(data['data_samples'])]


def test_train_nodes_options_are_checked():
    with pytest.raises(ValueError, match="train_nodes must be one of.*'peak'"):
        _build(train_nodes='peak')
    with pytest.raises(ValueError, match='peak_match_alpha must be > 0'):
        _build(train_nodes='peaks', peak_match_alpha=0.0)


def test_peak_match_radius_is_in_crop_pixels():
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample
    _, model = _build(train_nodes='peaks', peak_match_alpha=0.1)
    # a 100 x 40 px box cropped from a 250 x 250 px region into 128 x 128: the radius
    # 0.1 * 100 image px is 0.1 * 100 * 128 / 250 = 5.12 crop px
    sample = PoseDataSample(metainfo=dict(input_size=(128, 128),
                                          input_scale=np.array([250.0, 250.0])))
    sample.gt_instances = InstanceData(bboxes=np.array([[10, 20, 110, 60]], np.float32))
    assert model._crop_radius(sample) == pytest.approx(5.12)
    # anisotropic scale: the larger side in crop pixels wins
    sample.set_metainfo(dict(input_scale=np.array([250.0, 50.0])))
    assert model._crop_radius(sample) == pytest.approx(0.1 * 40 * 128 / 50)
    del sample.gt_instances.bboxes
    with pytest.raises(KeyError, match='gt_instances.bboxes'):
        model._crop_radius(sample)


def test_joint_peak_nodes_leave_batchnorm_statistics_alone(tiny_synth):
    """The extra decode of the peaks runs the head in eval mode: in joint training
    only head.loss's forward updates BatchNorm's running statistics."""
    torch.manual_seed(0)
    np.random.seed(0)
    cfg, gt_model = _build(train_nodes='gt')
    _, peak_model = _build(train_nodes='peaks')
    peak_model.load_state_dict(gt_model.state_dict())
    data = gt_model.data_preprocessor(_batch(cfg, tiny_synth, n=3), training=True)
    for m in (gt_model, peak_model):
        m.train()
        m.link_head.position_jitter = m.link_head.canonical_jitter = 0.0
        m.loss(data['inputs'], data['data_samples'])
        assert m.head.training  # restored after the decode
    running = [k for k in gt_model.head.state_dict() if 'running_mean' in k]
    assert running  # the head has BatchNorm layers, so the check below bites
    for k in running:
        a, b = gt_model.head.state_dict()[k], peak_model.head.state_dict()[k]
        assert torch.allclose(a, b), k
    graphs = peak_model._peak_graph_inputs(peak_model.extract_feat(data['inputs']),
                                           data['data_samples'])
    assert all(g['jitter'] is False for g in graphs)  # real errors, no simulated ones


def test_predict_weights_links_by_the_names_confidence(tiny_synth):
    from mmpose.registry import MODELS

    import kplink_mm  # noqa: F401
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(
        REPO, 'configs/klpnet/klpnet-links-catlogits_res18_cpu_kplink-synth-128x128.py'))
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    data = model.data_preprocessor(_batch(cfg, tiny_synth, n=3, train=False),
                                   training=False)

    def links(power):
        # predict writes into the data samples, so read each run's fields at once
        model.test_cfg['link_name_score_power'] = power
        with torch.no_grad():
            samples = model(**data, mode='predict')
        return [tuple(np.array(s.pred_instances.get(k)).reshape(-1) for k in
                      ('link_pairs', 'link_scores', 'keypoint_name_scores'))
                for s in samples]

    plain, weighted = links(0.0), links(0.5)
    checked = 0
    for (pairs, scores, q), (pairs_w, scores_w, _) in zip(plain, weighted):
        pairs = pairs.reshape(-1, 2)
        np.testing.assert_array_equal(pairs_w.reshape(-1, 2), pairs)
        qa = np.where(pairs[:, 0] >= 0, q[pairs[:, 0]], 0)
        qb = np.where(pairs[:, 1] >= 0, q[pairs[:, 1]], 0)
        np.testing.assert_allclose(scores_w, scores * np.sqrt(qa * qb), rtol=1e-5,
                                   atol=1e-9)
        checked += len(pairs)
    assert checked > 0


def test_link_name_score_power_needs_name_scores(tiny_synth, monkeypatch):
    cfg, model = _build(test_cfg=dict(flip_test=False, link_name_score_power=0.1))
    model.eval()
    predict = model.head.predict

    def without_name_scores(*args, **kwargs):  # a head that does not report them
        preds = predict(*args, **kwargs)
        for p in (preds[0] if isinstance(preds, tuple) else preds):
            del p.keypoint_name_scores
        return preds

    monkeypatch.setattr(model.head, 'predict', without_name_scores)
    data = model.data_preprocessor(_batch(cfg, tiny_synth, n=2, train=False),
                                   training=False)
    with pytest.raises(KeyError, match='keypoint_name_scores'):
        with torch.no_grad():
            model(**data, mode='predict')

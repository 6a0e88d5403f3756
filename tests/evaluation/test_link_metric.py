import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData

from kplink_mm.datasets.metainfo import category_slices
from kplink_mm.evaluation.functional import (average_precision, link_scores_per_pair,
                                             occlusion_level, precision_recall_f1,
                                             roc_auc)
from kplink_mm.evaluation.metrics import (LinkPredictionMetric, evaluate_link_records,
                                          link_record_from_sample)
from mmpose.registry import METRICS
from mmpose.structures import PoseDataSample

NUM_UNION = 97           # all kplink-synth categories: car 0..11, chair 24..33


def test_ap_and_auc_with_ties_by_hand():
    # desc: 0.9 (+), {0.8 (-), 0.8 (+)} tie, 0.3 (-)
    s, y = [0.9, 0.8, 0.8, 0.3], [1, 0, 1, 0]
    # AP: steps at 0.9 (R .5, P 1) and at the tie group (R 1, P 2/3)
    assert average_precision(s, y) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    # AUC: 0.9 beats both negatives, 0.8 ties one (0.5) and beats one -> 3.5 / 4
    assert roc_auc(np.array(s), np.array(y)) == pytest.approx(0.875)

    s, y = [0.2, 0.9, 0.4, 0.4, 0.7], [0, 1, 1, 0, 0]
    # 0.9 (+): P 1, R .5; 0.7 (-); tie 0.4 (+,-): P 2/4, R 1
    assert average_precision(s, y) == pytest.approx(0.5 * 1 + 0.5 * 0.5)
    assert roc_auc(np.array(s), np.array(y)) == pytest.approx(4.5 / 6)

    # all tied: one step to R 1 at P = prevalence; AUC one diagonal
    assert average_precision([0.5] * 4, [1, 0, 0, 1]) == pytest.approx(0.5)
    assert roc_auc(np.full(4, 0.5), np.array([1, 0, 0, 1])) == pytest.approx(0.5)
    assert math.isnan(average_precision([0.1, 0.2], [0, 0]))
    with pytest.raises(ValueError, match='differ in length'):
        average_precision([0.1, 0.2], [1])


def test_precision_recall_f1_by_hand():
    s, y = [0.9, 0.5, 0.49, 0.2, 0.7], [1, 1, 1, 0, 0]
    # >= 0.5: 0.9 (+), 0.5 (+), 0.7 (-) -> TP 2, FP 1, FN 1 (0.49)
    assert precision_recall_f1(s, y, 0.5) == pytest.approx((2 / 3, 2 / 3, 2 / 3))
    # >= 0.8: TP 1, FP 0, FN 2 -> P 1, R 1/3, F1 2 * 1/3 / (4/3) = 0.5
    assert precision_recall_f1(s, y, 0.8) == pytest.approx((1.0, 1 / 3, 0.5))
    # nothing predicted: zero division gives 0 (sklearn's zero_division=0)
    assert precision_recall_f1(s, y, 0.95) == (0.0, 0.0, 0.0)


def test_occlusion_level_thresholds():
    assert occlusion_level([2, 2, 0]) == 'none'
    assert occlusion_level([0, 0]) == 'none'                  # nothing labelled
    assert occlusion_level([1, 2, 2, 2]) == 'slight'           # 0.25
    assert occlusion_level([1, 1, 1] + [2] * 7) == 'slight'    # exactly 0.3
    assert occlusion_level([1, 2, 2]) == 'heavy'               # 1/3
    assert occlusion_level([1, 2, 2], slight_max=0.5) == 'slight'


def test_link_scores_per_pair_labels():
    skeleton = [(0, 1), (1, 2), (2, 3)]
    pairs = np.array([[1, 0], [0, 2], [2, -1], [2, 2], [3, 2], [1, 2]])
    labelled = np.array([True, True, True, False])
    scores, labels = link_scores_per_pair(pairs, [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], skeleton,
                                          labelled)
    # reversed order is a link; unknown node, self pair, unlabelled endpoint are not
    np.testing.assert_array_equal(labels, [True, False, False, False, False, True])
    assert scores.dtype == np.float64
    # dense (N, N) matrix: all pairs i < j
    dense = np.arange(16, dtype=float).reshape(4, 4)
    s, lab = link_scores_per_pair(None, dense, skeleton)
    np.testing.assert_array_equal(s, [1, 2, 3, 6, 7, 11])
    np.testing.assert_array_equal(lab, [True, False, False, True, False, True])
    with pytest.raises(ValueError, match='pairs'):
        link_scores_per_pair(np.zeros((3, 3), int), np.zeros(3), skeleton)
    with pytest.raises(ValueError, match='scores'):
        link_scores_per_pair(pairs, np.zeros(5), skeleton)


def _sample(cat_id, states, pairs, scores, sid):
    sample = PoseDataSample(metainfo=dict(id=sid, category_id=cat_id,
                                          keypoint_states=np.array(states)[None]))
    sample.pred_instances = InstanceData(link_pairs=np.array(pairs)[None],
                                         link_scores=np.array(scores, np.float32)[None])
    return sample


def _states(start, count, occluded=(), outside=()):
    s = np.zeros(NUM_UNION, int)
    s[start:start + count] = 2
    s[[start + i for i in occluded]] = 1
    s[[start + i for i in outside]] = 0
    return s


def _hand_made_samples():
    # car (id 1, slots 0..11): links (0,1) (0,2) (1,3) (2,3) (10,11) ... (18 links)
    s1 = _sample(1, _states(0, 12), [[0, 1], [2, 0], [0, 3], [4, -1]],
                 [0.9, 0.6, 0.7, 0.2], 's1')                                   # none
    # 2 of 11 labelled occluded (slot 11 outside the image) -> slight
    s2 = _sample(1, _states(0, 12, occluded=(1, 3), outside=(11,)),
                 [[1, 3], [10, 11], [2, 3]], [0.8, 0.95, 0.4], 's2')
    # chair (id 3, slots 24..33): links (0,1) (0,2) ...; 4 of 10 occluded -> heavy;
    # a pair of car slots (a wrongly conditioned node) is a negative
    s3 = _sample(3, _states(24, 10, occluded=(0, 3, 5, 7)),
                 [[24, 25], [24, 26], [25, 26], [0, 1]], [0.3, 0.55, 0.5, 0.6], 's3')
    return [s1, s2, s3]


def test_metric_exact_numbers_per_category_and_occlusion():
    metric = METRICS.build(dict(type='LinkPredictionMetric', threshold=0.5))
    assert isinstance(metric, LinkPredictionMetric)
    metric.process({}, [s.to_dict() for s in _hand_made_samples()])
    res = metric.evaluate(3)
    exp = {
        # car: + {0.9 0.6 0.8 0.4}, - {0.7 0.2 0.95}: 6 of 12 pairs ordered
        'AUC/car': 6 / 12,
        # desc 0.95- 0.9+ 0.8+ 0.7- 0.6+ 0.4+ 0.2-: P at the positives 1/2 2/3 3/5 4/6
        'AP/car': (1 / 2 + 2 / 3 + 3 / 5 + 4 / 6) / 4,
        'precision/car': 3 / 5, 'recall/car': 3 / 4, 'F1/car': 2 / 3,
        # s1: 2 of 18 links found; s2: 15 links with labelled ends (11 outside), 1 found
        'skeleton_recall/car': 3 / 33,
        # chair: + {0.3 0.55}, - {0.5 0.6}
        'AUC/chair': 1 / 4, 'AP/chair': 0.5 * 1 / 2 + 0.5 * 2 / 4,
        'precision/chair': 1 / 3, 'recall/chair': 1 / 2, 'F1/chair': 0.4,
        'skeleton_recall/chair': 1 / 11,
        # occlusion none = s1: + {0.9 0.6}, - {0.7 0.2}
        'AUC/occlusion_none': 3 / 4, 'AP/occlusion_none': 0.5 + 0.5 * 2 / 3,
        'precision/occlusion_none': 2 / 3, 'recall/occlusion_none': 1.0,
        'F1/occlusion_none': 0.8, 'skeleton_recall/occlusion_none': 2 / 18,
        # slight = s2: + {0.8 0.4}, - {0.95}
        'AUC/occlusion_slight': 0.0, 'AP/occlusion_slight': 0.5 * 1 / 2 + 0.5 * 2 / 3,
        'precision/occlusion_slight': 0.5, 'recall/occlusion_slight': 0.5,
        'F1/occlusion_slight': 0.5, 'skeleton_recall/occlusion_slight': 1 / 15,
        # heavy = s3 = chair
        'AUC/occlusion_heavy': 1 / 4, 'AP/occlusion_heavy': 0.5,
        'F1/occlusion_heavy': 0.4,
        # pooled: + {.9 .6 .8 .4 .3 .55}, - {.7 .2 .95 .5 .6}; 0.6 ties once
        'AUC': (4 + 2.5 + 4 + 1 + 1 + 2) / 30,
        # desc .95- .9+ .8+ .7- {.6+ .6-} .55+ .5- .4+ .3+ .2-
        'AP': (1 / 2 + 2 / 3 + 3 / 6 + 4 / 7 + 5 / 9 + 6 / 10) / 6,
        'precision': 4 / 8, 'recall': 4 / 6, 'F1': 4 / 7,
        'skeleton_recall': 4 / 44,
    }
    for key, value in exp.items():
        assert res[f'link/{key}'] == pytest.approx(value), key
    assert set(res) >= {f'link/{k}' for k in exp}
    assert not any(k.startswith('link/AUC/bus') for k in res)

    # offline on the dumped dicts: the same numbers, without the prefix
    slices = category_slices()
    records = [link_record_from_sample(s.to_dict(), slices) for s in _hand_made_samples()]
    offline = evaluate_link_records(records, threshold=0.5)
    assert offline == {k[len('link/'):]: v for k, v in res.items()}


def test_metric_rejects_malformed_predictions():
    slices = category_slices()
    good = _hand_made_samples()[0]
    bad = good.clone()
    bad.pred_instances = InstanceData(link_pairs=np.zeros((1, 4, 3), int),
                                      link_scores=np.zeros((1, 4)))
    with pytest.raises(ValueError, match=r'pred_instances\.link_pairs has shape'):
        link_record_from_sample(bad, slices)
    bad.pred_instances = InstanceData(link_pairs=np.zeros((1, 4, 2), int),
                                      link_scores=np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r'pred_instances\.link_scores has shape'):
        link_record_from_sample(bad, slices)
    bad.pred_instances = InstanceData(link_pairs=np.full((1, 1, 2), NUM_UNION),
                                      link_scores=np.zeros((1, 1)))
    with pytest.raises(ValueError, match='link_pairs holds slots'):
        link_record_from_sample(bad, slices)
    bad.pred_instances = InstanceData(link_pairs=np.zeros((1, 1, 2), int))
    with pytest.raises(KeyError, match='link_scores'):
        link_record_from_sample(bad, slices)
    no_states = PoseDataSample(metainfo=dict(category_id=1))
    no_states.pred_instances = good.pred_instances
    with pytest.raises(KeyError, match='keypoint_states'):
        link_record_from_sample(no_states, slices)
    # (M, 2) / (M,) without the instance axis are accepted (plain dicts)
    d = good.to_dict()
    d['pred_instances'] = dict(link_pairs=torch.tensor([[0, 1]]),
                               link_scores=torch.tensor([0.7]))
    r = link_record_from_sample(d, slices)
    assert r['labels'].tolist() == [True] and r['level'] == 'none'


def test_head_fields_feed_the_metric():
    from kplink_mm.models.heads import CLPGMHead
    head = CLPGMHead(in_channels=0, hidden_channels=8, latent_channels=4, num_layers=1)
    slots = torch.tensor([0, 1, 2, 3])
    inp = dict(positions=torch.rand(4, 2) * 64, canonical=torch.rand(4, 3) - 0.5,
               slots=slots, category='chair', input_size=(64, 64))
    head.eval()
    links = head.predict_links(head(None, [inp]))
    fields = head.link_fields(links, [inp])[0]
    sample = _sample(3, _states(24, 10), fields['link_pairs'][0],
                     fields['link_scores'][0], 'x')
    r = link_record_from_sample(sample, category_slices())
    # chair links among slots 0..3: (0,1) (0,2) (1,3) (2,3) of the 6 pairs
    assert r['labels'].tolist() == [True, True, False, False, True, True]
    np.testing.assert_allclose(r['scores'], links[0]['scores'].numpy(), rtol=1e-6)


def _rec(category, scores, labels):
    from kplink_mm.datasets.synth.categories import get_category
    n = get_category(category).num_keypoints  # states 0: no skeleton_recall term
    return dict(category=category, scores=np.asarray(scores, float),
                labels=np.asarray(labels, bool), pairs=np.zeros((len(scores), 2), int),
                states=np.zeros(n, int), level='none')


def test_per_category_thresholds_by_hand():
    from kplink_mm.evaluation.metrics.link_metric import evaluate_records
    car = _rec('car', [0.9, 0.8, 0.6, 0.55], [1, 1, 0, 0])
    bus = _rec('bus', [0.7, 0.4], [1, 0])
    # one threshold 0.5: 3 TP, 2 FP, 0 FN
    one = evaluate_records([car, bus], 0.5)
    assert one['precision'] == pytest.approx(3 / 5) and one['recall'] == 1.0
    # car at 0.7 drops its two false links; bus keeps the default 0.5
    per = evaluate_records([car, bus], {'car': 0.7})
    assert per['precision'] == 1.0 and per['recall'] == 1.0
    assert per['F1/car'] == 1.0 and per['F1/bus'] == 1.0
    with pytest.raises(ValueError, match=r"\{'car': 1.5\}"):
        evaluate_records([car], {'car': 1.5})
    with pytest.raises(ValueError, match='outside'):
        LinkPredictionMetric(threshold=-0.1)


def test_best_f1_thresholds_picks_the_f1_optimum():
    from kplink_mm.evaluation.metrics.link_metric import best_f1_thresholds
    # car: F1 is best at 0.8 (2 TP, 0 FP); ties at 0.6 form one step
    car = _rec('car', [0.9, 0.8, 0.6, 0.6, 0.3] * 5, [1, 1, 0, 1, 0] * 5)
    few = _rec('bus', [0.9, 0.1], [1, 0])  # 1 true link < min_positives
    thr = best_f1_thresholds([car, few], default=0.4, min_positives=5)
    # at 0.8: P = 1, R = 2/3 -> F1 0.8; at 0.6 (the tie): P = 3/4, R = 1 -> F1 0.857
    assert thr == {'default': 0.4, 'car': 0.6}
    thr = best_f1_thresholds([_rec('car', [0.9, 0.8, 0.6, 0.6] * 5, [1, 1, 0, 0] * 5)],
                             min_positives=5)
    assert thr['car'] == 0.8


# ---------------------------------------------------------------- position labels
def test_match_nodes_to_keypoints_by_hand():
    from kplink_mm.evaluation.functional import match_nodes_to_keypoints
    kpts = np.array([[0, 0], [10, 0], [20, 0], [30, 0]], float)
    labelled = np.array([True, True, True, False])
    nodes = np.array([[1, 0],      # on 0
                      [14, 0],     # nearer 10 than 20: on 1
                      [15, 0],     # tie between 1 and 2: the lower index
                      [29, 0],     # nearest is unlabelled 3; labelled 2 is 9 away
                      [40, 0],     # 10 from labelled 3? no: 3 unlabelled, 2 is 20 away
                      [5, 5],      # sqrt(50) ~ 7.07 from 0 and 1: on 0 (tie)
                      [np.nan, 0]])  # no position: on nothing
    np.testing.assert_array_equal(match_nodes_to_keypoints(nodes, kpts, labelled, 10),
                                  [0, 1, 1, 2, -1, 0, -1])
    # the radius is strict, as in PCK: exactly 10 away is no match
    np.testing.assert_array_equal(
        match_nodes_to_keypoints([[10, 10]], kpts, labelled, 10), [-1])
    assert match_nodes_to_keypoints(np.zeros((0, 2)), kpts, labelled, 10).shape == (0,)
    with pytest.raises(ValueError, match='labelled has 3 values for 4'):
        match_nodes_to_keypoints(nodes, kpts, labelled[:3], 10)
    with pytest.raises(ValueError, match='radius'):
        match_nodes_to_keypoints(nodes, kpts, labelled, -1)


CHAIR_START = 24  # chair: union slots 24..33; links (0,1) (0,2) (1,3) (2,3) (4,5) ...


def _chair_position_sample(sid='p1', peak_pairs=True):
    """A chair whose keypoint i lies at (10 i, 0) (bbox 100 wide: radius 10) and four
    peaks: on keypoints 0, 1 and 2, and one on none. The node on keypoint 1 is
    misnamed 3. Pairs (names -> where they lie):
        a (0, 3) -> (0, 1)   name: no link,  position: link      score 0.9
        b (0, 2) -> (0, 2)   name: link,     position: link      score 0.8
        c (3, 2) -> (1, 2)   name: link,     position: no link   score 0.3
        d (2, -) -> (2, -)   name: no link,  position: no link   score 0.2
    """
    gt = np.zeros((NUM_UNION, 2), np.float32)
    gt[CHAIR_START:CHAIR_START + 10, 0] = np.arange(10) * 10
    peaks = np.array([[1, 0], [11, 1], [20.5, 0], [55, 30]], np.float32)
    names = np.array([0, 3, 2, -1])
    node_pairs = np.array([[0, 1], [0, 2], [1, 2], [2, 3]])
    union = np.where(names[node_pairs] >= 0, names[node_pairs] + CHAIR_START, -1)
    sample = _sample(3, _states(CHAIR_START, 10), union, [0.9, 0.8, 0.3, 0.2], sid)
    sample.gt_instances = InstanceData(keypoints=gt[None],
                                       bboxes=np.array([[0, 0, 100, 50]], np.float32))
    pred = sample.pred_instances
    pred.peaks = peaks[None]
    if peak_pairs:
        pred.link_peak_pairs = node_pairs[None]
    return sample


def test_position_labels_judge_nodes_by_where_they_lie():
    sample = _chair_position_sample()
    slices = category_slices()
    by_name = link_record_from_sample(sample, slices)
    by_pos = link_record_from_sample(sample, slices, labels='position')
    assert by_name['labels'].tolist() == [False, True, True, False]
    assert by_pos['labels'].tolist() == [True, True, False, False]
    assert by_pos['name_labels'].tolist() == by_name['labels'].tolist()
    np.testing.assert_array_equal(by_pos['pairs'], [[0, 1], [0, 2], [1, 2], [2, -1]])

    metric = METRICS.build(dict(type='LinkPredictionMetric', labels='position'))
    metric.process({}, [sample.to_dict()])
    res = metric.evaluate(1)
    # >= 0.5: a, b predicted; both true links, no true link missed
    assert res['link_pos/F1'] == 1.0 and res['link_pos/AUC'] == 1.0
    # chair: 11 links between labelled keypoints, found (0,1) and (0,2)
    assert res['link_pos/skeleton_recall'] == pytest.approx(2 / 11)
    # by name the same scores are half wrong: TP b, FP a, FN c; AUC 2 of 4 orders
    named = evaluate_link_records([by_name])
    assert named['F1'] == pytest.approx(0.5) and named['AUC'] == pytest.approx(0.5)


def test_name_lookup_baseline_is_perfect_by_name_not_by_position():
    from kplink_mm.evaluation.metrics.link_metric import name_lookup_records
    slices = category_slices()
    by_name = link_record_from_sample(_chair_position_sample(), slices)
    by_pos = link_record_from_sample(_chair_position_sample(), slices, labels='position')
    assert evaluate_link_records(name_lookup_records([by_name]))['F1'] == 1.0
    # by position the lookup predicts b, c: TP b, FP c, FN a
    look = evaluate_link_records(name_lookup_records([by_pos]))
    assert look['precision'] == 0.5 and look['recall'] == 0.5
    with pytest.raises(KeyError, match='name_lookup'):
        name_lookup_records([dict(scores=np.zeros(1))])


def test_name_lookup_baseline_does_not_know_which_keypoints_are_in_the_image():
    """A peak named for keypoint 2, which is outside the image (state 0): the pair
    (0, 2) is joined in the chair skeleton, so the lookup links it, and by name it is
    a false positive, as it is for any link predictor that trusts the names."""
    from kplink_mm.evaluation.metrics.link_metric import name_lookup_records
    sample = _chair_position_sample()
    states = np.asarray(sample.metainfo['keypoint_states']).copy()
    states[..., CHAIR_START + 2] = 0
    sample.set_metainfo(dict(keypoint_states=states))
    by_name = link_record_from_sample(sample, category_slices())
    assert by_name['labels'].tolist() == [False, False, False, False]
    assert by_name['name_lookup'].tolist() == [False, True, True, False]
    look = evaluate_link_records(name_lookup_records([by_name]))
    assert look['precision'] == 0.0


def test_position_labels_reject_missing_or_bad_fields():
    slices = category_slices()
    with pytest.raises(KeyError, match="no 'link_peak_pairs'.*labels='name'"):
        link_record_from_sample(_chair_position_sample(peak_pairs=False), slices,
                                labels='position')
    bad = _chair_position_sample()
    bad.pred_instances.link_peak_pairs = np.array([[[0, 1], [0, 9], [1, 2], [2, 3]]])
    with pytest.raises(ValueError, match=r'link_peak_pairs holds \[0, 9\].*0\.\.3'):
        link_record_from_sample(bad, slices, labels='position')
    no_gt = _chair_position_sample()
    del no_gt.gt_instances
    with pytest.raises(KeyError, match="gt_instances has no 'keypoints'"):
        link_record_from_sample(no_gt, slices, labels='position')
    with pytest.raises(ValueError, match="labels must be one of"):
        link_record_from_sample(no_gt, slices, labels='geometry')
    with pytest.raises(ValueError, match='labels must be one of'):
        LinkPredictionMetric(labels='where')
    with pytest.raises(ValueError, match='alpha must be > 0'):
        LinkPredictionMetric(labels='position', alpha=0)
    # one evaluator can hold both: the prefixes differ unless given
    assert LinkPredictionMetric().prefix == 'link'
    assert LinkPredictionMetric(labels='position').prefix == 'link_pos'


def test_head_writes_the_peaks_of_its_nodes():
    from kplink_mm.models.heads import CLPGMHead
    from kplink_mm.datasets.synth.categories import get_category
    head = CLPGMHead(in_channels=0, hidden_channels=8, latent_channels=4, num_layers=1)
    canon = get_category('chair').canonical_keypoints()
    # five peaks; the features of peaks 4, 1, 3 are chair keypoints 0, 2, 5; those of
    # peaks 0 and 2 are far from every canonical point, so no slot takes them
    feats = np.stack([canon[0] + 5, canon[2], canon[1] + 5, canon[5], canon[0]])
    peaks = np.arange(10, dtype=np.float32).reshape(5, 2)
    inp = head.graph_inputs_from_peaks(peaks, np.full(5, 0.9), feats, 'chair', (64, 64))
    assert sorted(inp['peak_index'].tolist()) == [1, 3, 4]
    np.testing.assert_array_equal(inp['positions'], peaks[inp['peak_index']])
    head.eval()
    links = head.predict_links(head(None, [inp]))
    fields = head.link_fields(links, [inp])[0]
    ppairs = fields['link_peak_pairs'][0]
    assert ppairs.shape == fields['link_pairs'][0].shape
    # every endpoint's peak carries the slot that link_pairs names
    slot_of_peak = dict(zip(inp['peak_index'].tolist(), inp['slots'].tolist()))
    for (pa, pb), (sa, sb) in zip(ppairs, fields['link_pairs'][0]):
        assert (slot_of_peak[pa] + CHAIR_START, slot_of_peak[pb] + CHAIR_START) == (sa, sb)
    # ground-truth nodes have no peaks: no field, and the metric says what it lacks
    gt_inp = dict(positions=torch.rand(3, 2) * 64, canonical=torch.rand(3, 3),
                  slots=torch.tensor([0, 1, 2]), category='chair', input_size=(64, 64))
    gt_fields = head.link_fields(head.predict_links(head(None, [gt_inp])), [gt_inp])[0]
    assert 'link_peak_pairs' not in gt_fields


def test_link_scores_weighted_by_name_scores_by_hand():
    from kplink_mm.evaluation.functional.links import weight_links_by_name_scores
    pairs = np.array([[[0, 1], [1, 2], [2, -1]]])
    scores = np.array([[0.9, 0.5, 0.99]], np.float32)
    q = np.array([[1.0, 0.25, 0.64, 0.0]], np.float32)
    out = weight_links_by_name_scores(pairs, scores, q, 0.5)
    # sqrt(q_a q_b): 0.5, sqrt(0.16) = 0.4; an unknown (-1) node has q = 0
    np.testing.assert_allclose(out, [[0.45, 0.2, 0.0]], rtol=1e-6)
    assert out.shape == scores.shape and out.dtype == np.float32
    np.testing.assert_array_equal(weight_links_by_name_scores(pairs, scores, q, 0.0), scores)
    with pytest.raises(ValueError, match='link_name_score_power'):
        weight_links_by_name_scores(pairs, scores, q, -1.0)
    with pytest.raises(ValueError, match='outside the 2 name scores'):
        weight_links_by_name_scores(pairs, scores, q[:, :2], 0.5)
    with pytest.raises(ValueError, match='3 link pairs but 2 link scores'):
        weight_links_by_name_scores(pairs, scores[:, :2], q, 0.5)


"""OcclusionKeypointMetric on hand-made PoseDataSamples with known errors."""
import numpy as np
import pytest
from mmengine.structures import InstanceData

from mmpose.registry import METRICS
from mmpose.structures import PoseDataSample

from kplink_mm.datasets.metainfo import category_slices
from kplink_mm.datasets.synth.categories import get_category
from kplink_mm.evaluation.metrics import (OcclusionKeypointMetric, evaluate_occlusion_records,
                                          occlusion_curves, occlusion_record_from_sample)
from kplink_mm.evaluation.metrics import occlusion_metric as om

SLICES = category_slices()
K = sum(n for _, n in SLICES.values())  # 97


def make_sample(cat, bbox, states, errors, scores, sample_id=0, with_slice=False):
    """A predicted PoseDataSample whose `set` keypoints are `errors[set]` px off in x.

    errors: {'final'|'init'|'reproj': (n,) px}; scores: {pred field: (n,)}.
    """
    start, n = SLICES[cat]
    field = dict(final='keypoints', init='init_keypoints', reproj='reprojected_keypoints')

    def union(values, dim=None):
        out = np.zeros((1, K) if dim is None else (1, K, dim), np.float32)
        out[0, start:start + n] = values
        return out

    gt = np.stack([10.0 + 5 * np.arange(n), np.full(n, 20.0)], axis=1)
    meta = dict(id=sample_id, category_id=np.array(get_category(cat).id),
                keypoint_states=union(np.asarray(states)).astype(np.int64))
    if with_slice:
        meta['category_slice'] = (start, n)
    sample = PoseDataSample(metainfo=meta)
    sample.gt_instances = InstanceData(
        keypoints=union(gt, 2), keypoints_visible=union(np.asarray(states) > 0),
        bboxes=np.asarray([bbox], np.float32))
    pred = InstanceData()
    for name, err in errors.items():
        setattr(pred, field[name], union(gt + np.stack([np.asarray(err, float),
                                                        np.zeros(n)], 1), 2))
    for key, value in scores.items():
        setattr(pred, key, union(np.asarray(value, float)))
    sample.pred_instances = pred
    return sample


def car_sample(**kw):
    # max(bbox w, h) = 100 -> 10 px at alpha 0.1, 20 px at 0.2.
    # 6 visible, 4 occluded, 2 outside the image (perfect predictions and extreme
    # scores there: they would change every number if they were counted).
    states = [2] * 6 + [1] * 4 + [0] * 2
    errors = dict(final=[5, 5, 5, 5, 15, 25, 5, 15, 15, 30, 0, 0],
                  init=[5] * 6 + [30, 30, 30, 5, 0, 0],
                  reproj=[15] * 10 + [0, 0])
    heat = [.8, .8, .8, .6, .6, .6, .6, .6, .4, .4, .99, .99]
    scores = dict(visibility_scores=[.9] * 6 + [.1] * 4 + [.0, .0], init_scores=heat,
                  keypoint_scores=heat)
    scores.update(kw.pop('scores', {}))
    for key in kw.pop('drop', ()):
        scores.pop(key)
    return make_sample('car', [0, 0, 100, 50], states, errors, scores, **kw)


def bottle_sample(**kw):
    # max(bbox w, h) = 40 -> 4 px at alpha 0.1, 8 px at 0.2. 3 visible, 4 occluded.
    states = [2, 2, 2, 1, 1, 1, 1]
    errors = dict(final=[1, 1, 6, 1, 1, 1, 10], init=[1, 1, 1, 10, 10, 10, 10],
                  reproj=[6] * 7)
    heat = [.5, .5, .5, .5, .2, .2, .2]
    scores = dict(visibility_scores=[.9] * 3 + [.1] * 4, init_scores=heat,
                  keypoint_scores=heat)
    for key in kw.pop('drop', ()):
        scores.pop(key)
    return make_sample('bottle', [10, 10, 30, 50], states, errors, scores, **kw)


# heatmap scores of the labelled keypoints: visible .8 .8 .8 .6 .6 .6 .5 .5 .5,
# occluded .6 .6 .4 .4 .5 .2 .2 .2 -> pairs won: 3 * 8 + 3 * (6 + 2 / 2) + 3 * (5 + 1 / 2)
HEATMAP_AUC = (24 + 21 + 16.5) / (9 * 8)
EXPECTED = {
    'final/PCK@0.1_visible': 6 / 9, 'final/PCK@0.1_occluded': 4 / 8,
    'final/PCK@0.2_visible': 8 / 9, 'final/PCK@0.2_occluded': 6 / 8,
    'final/PCK@0.1': 10 / 17,
    'init/PCK@0.1_visible': 1.0, 'init/PCK@0.1_occluded': 1 / 8,
    'init/PCK@0.2_visible': 1.0, 'init/PCK@0.2_occluded': 1 / 8,
    'init/PCK@0.1': 10 / 17,
    'reproj/PCK@0.1_visible': 0.0, 'reproj/PCK@0.1_occluded': 0.0,
    'reproj/PCK@0.2_visible': 1.0, 'reproj/PCK@0.2_occluded': 1.0,
    'reproj/PCK@0.1': 0.0,
    'final/PCK@0.1_occluded/car': 1 / 4, 'final/PCK@0.1_occluded/bottle': 3 / 4,
    'AUC/encoder': 1.0, 'AUC/heatmap': HEATMAP_AUC,
}


class _Logger:
    def __init__(self):
        self.warnings = []

    def warning(self, msg):
        self.warnings.append(msg)


@pytest.fixture
def logger(monkeypatch):
    log = _Logger()
    monkeypatch.setattr(om.MMLogger, 'get_current_instance', staticmethod(lambda: log))
    return log


def _run(samples, **kw):
    metric = OcclusionKeypointMetric(**kw)
    # mmengine's Evaluator hands metrics the samples as dicts
    metric.process({}, [s.to_dict() for s in samples])
    return metric.evaluate(len(samples))


def test_registered_under_its_own_name():
    assert METRICS.get('OcclusionKeypointMetric') is OcclusionKeypointMetric


def test_exact_pck_and_auc_per_prediction_set():
    res = _run([car_sample(sample_id=1), bottle_sample(sample_id=2, with_slice=True)])
    assert set(res) == {f'occ/{k}' for k in EXPECTED}
    for key, value in EXPECTED.items():
        assert res[f'occ/{key}'] == pytest.approx(value), key
    assert all(type(v) is float for v in res.values())


def test_offline_records_give_the_same_numbers_and_curves():
    samples = [car_sample(), bottle_sample()]
    records = [occlusion_record_from_sample(s.to_dict(), SLICES) for s in samples]
    rec = records[0]
    assert rec['category'] == 'car' and rec['bbox_size'] == 100.0
    assert rec['gt_keypoints'].shape == (12, 2) and rec['states'].shape == (12,)
    assert sorted(rec['preds']) == ['final', 'init', 'reproj']
    assert rec['visibility_source'] == 'visibility_scores'
    assert rec['heatmap_source'] == 'init_scores'
    metrics = evaluate_occlusion_records(records)
    assert metrics == pytest.approx(EXPECTED)

    curves = occlusion_curves(records)
    np.testing.assert_allclose(curves['alphas'], np.linspace(0, 0.3, 31))
    assert curves['sets'] == ['init', 'final', 'reproj']
    # car: 4 of 12 occluded (33%), bottle: 4 of 7 (57%)
    assert curves['bins'] == ['0%', '0-25%', '25-50%', '50-75%', '>75%']
    assert curves['counts']['25-50%'] == dict(instances=1, visible=6, occluded=4)
    assert curves['counts']['50-75%'] == dict(instances=1, visible=3, occluded=4)
    assert curves['counts']['all'] == dict(instances=2, visible=9, occluded=8)
    i01 = 10  # alpha 0.1
    for s in curves['sets']:
        for st in ('visible', 'occluded'):
            y = curves['pck_curves'][s][st]
            assert y['all'][i01] == pytest.approx(metrics[f'{s}/PCK@0.1_{st}'])
            assert np.isnan(y['0%']).all()
            assert np.all(np.diff(y['all']) >= 0) and y['all'][0] == 0.0
    vs = curves['pck_vs_invisible']['final']['occluded']
    np.testing.assert_allclose(vs[0.1], [np.nan, np.nan, 1 / 4, 3 / 4, np.nan])
    np.testing.assert_allclose(curves['pck_vs_invisible']['final']['visible'][0.2],
                               [np.nan, np.nan, 5 / 6, 1.0, np.nan])
    assert curves['roc']['heatmap']['auc'] == pytest.approx(HEATMAP_AUC)
    assert curves['roc']['heatmap']['num_visible'] == 9
    assert curves['roc']['heatmap']['num_occluded'] == 8
    assert curves['roc']['encoder']['auc'] == 1.0

    counts = occlusion_curves(records, bins='count')
    assert counts['bins'] == ['0', '1-2', '3-4', '5-6', '7+']
    assert counts['counts']['3-4']['instances'] == 2


def test_visibility_score_fallback(logger):
    # Without an encoder: visibility falls back to init_scores, then keypoint_scores;
    # AUC/encoder is not reported, AUC/heatmap uses the same fallback.
    no_enc = [car_sample(drop=['visibility_scores']),
              bottle_sample(drop=['visibility_scores'])]
    rec = occlusion_record_from_sample(no_enc[0], SLICES)
    assert rec['visibility_source'] == 'init_scores'
    np.testing.assert_allclose(rec['visibility_scores'], rec['heatmap_scores'])
    res = _run(no_enc)
    assert 'occ/AUC/encoder' not in res
    assert res['occ/AUC/heatmap'] == pytest.approx(HEATMAP_AUC)

    pure_heatmap = [car_sample(drop=['visibility_scores', 'init_scores']),
                    bottle_sample(drop=['visibility_scores', 'init_scores'])]
    rec = occlusion_record_from_sample(pure_heatmap[0], SLICES)
    assert rec['visibility_source'] == rec['heatmap_source'] == 'keypoint_scores'
    res = _run(pure_heatmap)
    assert 'occ/AUC/encoder' not in res
    assert res['occ/AUC/heatmap'] == pytest.approx(HEATMAP_AUC)

    # no score at all: no AUC, PCK still there
    bare = [car_sample(drop=['visibility_scores', 'init_scores', 'keypoint_scores'])]
    res = _run(bare)
    assert not any('AUC' in k for k in res)
    assert res['occ/final/PCK@0.1_visible'] == pytest.approx(4 / 6)


def test_state0_keypoints_are_excluded():
    # Turning the two outside-image car keypoints into "visible" would add two perfect
    # hits with score .99; as state 0 they change nothing -- check against a car whose
    # outside slots hold garbage predictions.
    res = _run([car_sample()])
    car = car_sample()
    car.pred_instances.keypoints[0, 10:12] += 1000
    car.pred_instances.init_keypoints[0, 10:12] += 1000
    car.pred_instances.visibility_scores[0, 10:12] = 0.5
    assert _run([car]) == res
    assert res['occ/final/PCK@0.1_visible'] == pytest.approx(4 / 6)
    assert res['occ/final/PCK@0.1'] == pytest.approx(5 / 10)


def test_one_class_auc_is_left_out_with_a_warning(logger):
    car = make_sample('car', [0, 0, 100, 50], [2] * 12, dict(final=[5] * 12),
                      dict(visibility_scores=[.9] * 12, keypoint_scores=[.5] * 12))
    res = _run([car])
    assert res == {'occ/final/PCK@0.1_visible': 1.0, 'occ/final/PCK@0.2_visible': 1.0,
                   'occ/final/PCK@0.1': 1.0}
    assert any('AUC/encoder is undefined' in w for w in logger.warnings)
    assert any('AUC/heatmap is undefined' in w for w in logger.warnings)


def test_empty_dataset_warns_and_returns_empty(logger):
    metric = OcclusionKeypointMetric()
    assert metric.compute_metrics([]) == {}
    assert any('no sample' in w for w in logger.warnings)
    assert evaluate_occlusion_records([]) == {}


def test_wrong_number_of_keypoints_names_field_and_shape():
    car = car_sample(sample_id=7)
    car.pred_instances = InstanceData(
        keypoints=np.zeros((1, 12, 2), np.float32), keypoint_scores=np.zeros((1, 12)))
    metric = OcclusionKeypointMetric()
    with pytest.raises(ValueError, match=r'sample 7: pred_instances\.keypoints has shape '
                       r'\(1, 12, 2\); expected \(1, 97, 2\)'):
        metric.process({}, [car.to_dict()])
    car = car_sample()
    car.pred_instances.set_field(np.zeros((1, 12), np.float32), 'visibility_scores')
    with pytest.raises(ValueError, match=r'visibility_scores has shape \(1, 12\)'):
        occlusion_record_from_sample(car, SLICES)
    # offline records are checked too
    rec = occlusion_record_from_sample(car_sample(), SLICES)
    rec['preds']['reproj'] = rec['preds']['reproj'][:7]
    with pytest.raises(ValueError, match=r"record 0 \(car\): preds\['reproj'\] has shape "
                       r'\(7, 2\); expected \(12, 2\)'):
        evaluate_occlusion_records([rec])


def test_missing_states_or_predictions_are_named():
    car = car_sample().to_dict()
    del car['keypoint_states']
    with pytest.raises(KeyError, match='keypoint_states'):
        occlusion_record_from_sample(car, SLICES)
    car = car_sample().to_dict()
    del car['pred_instances']['keypoints']
    with pytest.raises(KeyError, match="pred_instances has no 'keypoints'"):
        occlusion_record_from_sample(car, SLICES)


def test_vispredict_keypoints_visible_counts_as_learned_visibility():
    """mmpose's VisPredictHead writes `keypoints_visible` (a learned probability);
    a plain heatmap model gets `keypoint_scores` copied there, which is not."""
    vis = [.9] * 6 + [.1] * 4 + [.0, .0]
    learned = [car_sample(drop=['visibility_scores', 'init_scores'],
                          scores=dict(keypoints_visible=vis))]
    rec = occlusion_record_from_sample(learned[0], SLICES)
    assert rec['visibility_source'] == 'keypoints_visible'
    assert _run(learned)['occ/AUC/encoder'] == pytest.approx(1.0)
    heat = [.8, .8, .8, .6, .6, .6, .6, .6, .4, .4, .99, .99]
    copied = [car_sample(drop=['visibility_scores', 'init_scores'],
                         scores=dict(keypoints_visible=heat))]
    rec = occlusion_record_from_sample(copied[0], SLICES)
    assert rec['visibility_source'] == 'keypoint_scores'
    assert 'occ/AUC/encoder' not in _run(copied)

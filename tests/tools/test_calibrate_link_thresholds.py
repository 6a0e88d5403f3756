"""tools/analysis/calibrate_link_thresholds.py on a hand-made dump: it writes the
per-category F1 optimum, which the metric then scores, and names a bad dump."""
import json
import os.path as osp
import pickle
import runpy

import pytest

from tests.evaluation.test_link_metric import _hand_made_samples

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'tools/analysis/calibrate_link_thresholds.py')


class tool:  # noqa: N801 - reads like the module it loads
    main = staticmethod(lambda argv: runpy.run_path(TOOL)['main'](argv))


def test_thresholds_from_a_dump(tmp_path, capsys):
    dump = tmp_path / 'preds.pkl'
    dump.write_bytes(pickle.dumps([s.to_dict() for s in _hand_made_samples()]))
    out = tmp_path / 'thr.json'
    thr = tool.main([str(dump), '--out', str(out), '--min-positives', '2'])
    # car: +{.9 .6 .8 .4} -{.7 .2 .95}: F1 is best at 0.4 (4 TP, 2 FP: 0.8)
    # chair: +{.3 .55} -{.5 .6}: best at 0.3 (2 TP, 2 FP: 2/3)
    assert thr == {'default': 0.5, 'car': pytest.approx(0.4), 'chair': pytest.approx(0.3)}
    assert json.loads(out.read_text()) == {'car': 0.4, 'chair': 0.3, 'default': 0.5}
    text = capsys.readouterr().out
    assert '| car | 0.400 | 66.7 | 80.0 |' in text
    assert 'LinkPredictionMetric(threshold=' in text
    # per occlusion level, as test_link_metric computes them by hand
    assert 'AUC by occlusion: none 75.0, slight 0.0, heavy 25.0' in text


def test_bad_dump_is_named(tmp_path):
    bad = tmp_path / 'bad.pkl'
    bad.write_bytes(b'not a pickle')
    with pytest.raises(SystemExit, match='bad.pkl'):
        tool.main([str(bad)])
    nolinks = tmp_path / 'nolinks.pkl'
    nolinks.write_bytes(pickle.dumps([{'id': 's9', 'category_id': 1}]))
    with pytest.raises(SystemExit, match="sample 0: .*s9.*pred_instances"):
        tool.main([str(nolinks)])


def test_apply_scores_at_given_points_and_names_a_bad_file(tmp_path, capsys):
    dump = tmp_path / 'preds.pkl'
    dump.write_bytes(pickle.dumps([s.to_dict() for s in _hand_made_samples()]))
    points = tmp_path / 'points.json'
    points.write_text(json.dumps({'car': 0.4}))
    thr = tool.main([str(dump), '--apply', str(points)])
    assert thr == {'car': 0.4, 'default': 0.5}  # applied, not chosen on this dump
    assert '| car | 0.400 | 66.7 | 80.0 |' in capsys.readouterr().out
    bad = tmp_path / 'bad.json'
    bad.write_text('{not json')
    with pytest.raises(SystemExit, match='--apply .*bad.json: cannot read thresholds'):
        tool.main([str(dump), '--apply', str(bad)])


def test_position_labels_and_the_name_lookup(tmp_path, capsys):
    from tests.evaluation.test_link_metric import _chair_position_sample
    dump = tmp_path / 'preds.pkl'
    dump.write_bytes(pickle.dumps([_chair_position_sample().to_dict()]))
    # the model's scores: by position a, b (0.9, 0.8) are the links -> F1 1 at 0.5
    tool.main([str(dump), '--labels', 'position', '--min-positives', '1'])
    text = capsys.readouterr().out
    assert '| all | - | 100.0 |' in text and "labels='position'" in text
    # the lookup predicts b, c: TP b, FP c, FN a -> F1 0.5 at any point in (0, 1]
    tool.main([str(dump), '--labels', 'position', '--name-lookup', '--apply',
               str(_points(tmp_path))])
    assert '| all | - | 50.0 | 50.0 |' in capsys.readouterr().out
    # and by name it is right on every pair
    tool.main([str(dump), '--name-lookup', '--apply', str(_points(tmp_path))])
    assert '| all | - | 100.0 | 100.0 |' in capsys.readouterr().out
    no_peaks = _chair_position_sample(peak_pairs=False)
    dump.write_bytes(pickle.dumps([no_peaks.to_dict()]))
    with pytest.raises(SystemExit, match="sample 0: .*link_peak_pairs"):
        tool.main([str(dump), '--labels', 'position'])


def test_name_score_power_weights_the_model_or_the_lookup(tmp_path, capsys):
    """The chair of test_link_metric with the naming unsure of name 3 (the node on
    keypoint 1, misnamed): weighted by q_a q_b the lookup's pair c (3, 2) drops to
    0.2, so at 0.5 it predicts b alone: TP b, FN a -> F1 2/3 by position."""
    import numpy as np

    from tests.evaluation.test_link_metric import CHAIR_START, _chair_position_sample
    sample = _chair_position_sample()
    q = np.ones((1, len(np.asarray(sample.metainfo['keypoint_states']).reshape(-1))),
                np.float32)
    q[0, CHAIR_START + 3] = 0.2
    sample.pred_instances.keypoint_name_scores = q
    dump = tmp_path / 'preds.pkl'
    dump.write_bytes(pickle.dumps([sample.to_dict()]))
    args = [str(dump), '--labels', 'position', '--name-lookup', '--apply',
            str(_points(tmp_path))]
    tool.main(args + ['--name-score-power', '1'])
    assert '| all | - | 66.7 | 66.7 |' in capsys.readouterr().out
    tool.main(args)   # unweighted, as in the test above
    assert '| all | - | 50.0 | 50.0 |' in capsys.readouterr().out
    with pytest.raises(SystemExit, match='--name-score-power must be >= 0'):
        tool.main(args + ['--name-score-power', '-1'])
    dump.write_bytes(pickle.dumps([_chair_position_sample().to_dict()]))
    with pytest.raises(SystemExit, match="sample 0: .*keypoint_name_scores"):
        tool.main(args + ['--name-score-power', '1'])


def _points(tmp_path):
    points = tmp_path / 'half.json'
    points.write_text(json.dumps({'default': 0.5}))
    return points

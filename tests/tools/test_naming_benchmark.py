"""tools/analysis/naming_benchmark.py: every naming of one dump side by side."""
import json
import os.path as osp
import pickle
import runpy

import numpy as np
import pytest

from kplink_mm.datasets.metainfo import category_slices
from kplink_mm.datasets.synth.categories import get_category
from tests.models.utils.test_peak_set_naming import _confused_car_records

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'tools/analysis/naming_benchmark.py')


def _main():
    return runpy.run_path(TOOL)['main']


def _dump(tmp_path):
    """A tools/test.py-like dump of mirror-confused car views whose dumped names are
    the one-to-one assignment's (what the online 'assignment' head writes)."""
    from kplink_mm.evaluation.functional import rename_record
    slices = category_slices()
    total = sum(n for _, n in slices.values())
    start, n = slices['car']
    samples = []
    for r in _confused_car_records(np.arange(0, 360, 40)):
        r = rename_record(r, 'assignment')
        kpts, pred = np.zeros((1, total, 2)), np.zeros((1, total, 2))
        kpts[0, start:start + n], pred[0, start:start + n] = r['gt_keypoints'], r['pred_keypoints']
        scores = np.zeros((1, total))
        scores[0, start:start + n] = r['pred_scores']
        states = np.zeros(total, np.int64)
        states[start:start + n] = r['states']
        samples.append(dict(
            category_id=get_category('car').id, img_id=r['img_id'], keypoint_states=states,
            gt_instances=dict(keypoints=kpts, keypoints_visible=(states > 0)[None] * 1.0,
                              bboxes=r['bbox'][None]),
            pred_instances=dict(keypoints=pred, keypoint_scores=scores,
                                peaks=r['peaks'][None], peak_scores=r['peak_scores'][None],
                                peak_probs=r['peak_probs'][None])))
    path = tmp_path / 'preds.pkl'
    path.write_bytes(pickle.dumps(samples))
    return str(path)


def test_namings_side_by_side_with_a_reference_first(tmp_path, capsys):
    dump = _dump(tmp_path)
    ref = tmp_path / 'baseline.json'
    ref.write_text(json.dumps({'kplink/PCK': 0.5, 'kplink/PCK/car': 0.5}))
    out_json = str(tmp_path / 'rows.json')
    results = _main()([dump, '--reference', f'baseline={ref}', '--json', out_json])
    assert list(results) == ['baseline', 'dump', 'assignment', 'viewpoint']
    # the dump holds the assignment's names; the viewpoint prior undoes the confusion
    assert results['dump']['kplink/PCK'] == results['assignment']['kplink/PCK'] < 0.5
    assert results['viewpoint']['kplink/PCK'] > 0.75, results['viewpoint']['kplink/PCK']
    out = capsys.readouterr().out
    assert "ratios to 'baseline'" in out and 'viewpoint' in out
    assert json.load(open(out_json))['viewpoint'] == results['viewpoint']


def test_bad_arguments_name_what_is_wrong(tmp_path):
    dump = _dump(tmp_path)
    with pytest.raises(SystemExit, match='--naming set needs --peak-naming'):
        _main()([dump, '--naming', 'set'])
    with pytest.raises(SystemExit, match='expected NAME=METRICS_JSON'):
        _main()([dump, '--reference', 'baseline.json'])
    with pytest.raises(SystemExit, match='cannot read .*missing.json'):
        _main()([dump, '--reference', f'b={tmp_path}/missing.json'])
    bad = tmp_path / 'bad.json'
    bad.write_text('{"coco/AP": 0.3}')
    with pytest.raises(SystemExit, match="bad.json has no 'kplink/PCK'"):
        _main()([dump, '--reference', f'b={bad}'])
    with pytest.raises(SystemExit, match='--viewpoint .*no_such'):
        _main()([dump, '--viewpoint', '{"no_such": 1}'])
    with pytest.raises(SystemExit, match='--peak-naming .*nothing.pth'):
        _main()([dump, '--naming', 'set', '--peak-naming', str(tmp_path / 'nothing.pth')])
    empty = tmp_path / 'empty.pkl'
    empty.write_bytes(pickle.dumps([]))
    with pytest.raises(SystemExit, match='empty.pkl holds no predictions'):
        _main()([str(empty)])


def test_several_labelled_namers_are_rows_side_by_side(tmp_path, monkeypatch):
    """Two namers for one dump (e.g. fitted on train and on train + an extra split) are
    rows 'set LABEL' in one run; a row given twice or an empty label is refused."""
    dump = _dump(tmp_path)
    tool = runpy.run_path(TOOL)
    loaded = []

    def fake_naming(checkpoint, no_keypoint_penalty=0.0, mirror_test=False):
        loaded.append((checkpoint, no_keypoint_penalty) + (('mirror', ) if mirror_test else ()))
        return 'assignment' if checkpoint == 'a.pth' else 'dump'

    monkeypatch.setitem(tool['naming_from_args'].__globals__, 'PeakSetNaming', fake_naming)
    results = tool['main']([dump, '--naming', 'assignment', 'set',
                            '--peak-naming', 'small=a.pth', 'large=b.pth'])
    assert list(results) == ['assignment', 'set small', 'set large']
    assert loaded == [('a.pth', 0.0), ('b.pth', 0.0)]
    assert results['set small'] == results['assignment']
    # several "no keypoint" penalties: one row per checkpoint and penalty
    loaded.clear()
    results = tool['main']([dump, '--naming', 'set', '--peak-naming', 'a.pth',
                            '--no-keypoint-penalty', '0', '2'])
    assert list(results) == ['set p0', 'set p2']
    assert loaded == [('a.pth', 0.0), ('a.pth', 2.0)]
    # an ensemble (checkpoints joined by commas) and mirror-test rows beside the plain ones
    loaded.clear()
    results = tool['main']([dump, '--naming', 'set', '--peak-naming', 'ens=a.pth,b.pth',
                            '--mirror-test'])
    assert list(results) == ['set ens', 'set ens mirror']
    assert loaded == [(['a.pth', 'b.pth'], 0.0), (['a.pth', 'b.pth'], 0.0, 'mirror')]
    # each keypoint taking its likeliest peak: 'by-prob' rows beside the feature rows
    results = tool['main']([dump, '--naming', 'dump', 'assignment',
                            '--keypoint-choice', 'feature', 'probability'])
    assert list(results) == ['dump', 'assignment', 'assignment by-prob']
    assert tool['peak_naming_rows'](['x.pth']) == {'set': 'x.pth'}
    with pytest.raises(SystemExit, match="row 'set' is given twice"):
        tool['peak_naming_rows'](['x.pth', 'y.pth'])
    with pytest.raises(SystemExit, match='expected CKPT or LABEL=CKPT'):
        tool['peak_naming_rows'](['=y.pth'])

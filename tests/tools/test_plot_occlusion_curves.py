"""tools/analysis/plot_occlusion_curves.py: figures and tables from a test.py dump."""
import os.path as osp
import pickle
import runpy

import numpy as np
import pytest
from mmengine.fileio import dump
from mmengine.structures import InstanceData
from PIL import Image

from mmpose.structures import PoseDataSample

from kplink_mm.datasets.metainfo import category_slices

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'tools/analysis/plot_occlusion_curves.py')
K = 97
CAR_START, CAR_N = category_slices()['car']


def _main():
    return runpy.run_path(TOOL)['main']


def car(num_occluded, occ_err_odd=15.0, sample_id=0):
    """A car (bbox 100 px: 10 px at alpha 0.1) with its first `num_occluded` keypoints
    occluded. final: visible 5 px off, occluded 5 px (even index) / `occ_err_odd`
    (odd index); init: visible 5 px, occluded 30 px; encoder perfect."""
    n = CAR_N
    states = np.array([1] * num_occluded + [2] * (n - num_occluded))
    gt = np.stack([10.0 + 5 * np.arange(n), np.full(n, 30.0)], 1)
    occ = states == 1
    final_err = np.where(occ, np.where(np.arange(n) % 2 == 0, 5.0, occ_err_odd), 5.0)
    init_err = np.where(occ, 30.0, 5.0)

    def union(values, dim=None):
        out = np.zeros((1, K) if dim is None else (1, K, dim), np.float32)
        out[0, CAR_START:CAR_START + n] = values
        return out

    def shifted(err):
        return union(gt + np.stack([err, np.zeros(n)], 1), 2)

    heat = np.where(occ, 0.4, 0.7)
    heat[occ & (np.arange(n) == 0)] = 0.8  # occluded keypoint 0: a confident heatmap
    s = PoseDataSample(metainfo=dict(id=sample_id, img_id=sample_id, category_id=np.array(1),
                                     keypoint_states=union(states).astype(np.int64),
                                     category_slice=(CAR_START, n)))
    s.gt_instances = InstanceData(keypoints=union(gt, 2), bboxes=np.array([[0, 0, 100, 60.]]),
                                  keypoints_visible=union(np.ones(n)))
    s.pred_instances = InstanceData(
        keypoints=shifted(final_err), keypoint_scores=union(heat),
        init_keypoints=shifted(init_err), init_scores=union(heat),
        visibility_scores=union(np.where(occ, 0.2, 0.9)))
    return s.to_dict()  # what DumpResults stores (mmengine's Evaluator converts to dicts)


def write_dump(path, occ_err_odd=15.0):
    samples = [car(k, occ_err_odd, i) for i, k in enumerate((0, 3, 6, 9))]
    dump(samples, str(path))
    return str(path)


def _valid_png(path):
    assert osp.getsize(path) > 1000
    with Image.open(path) as im:
        im.verify()
        assert im.format == 'PNG'


def test_figures_and_table(tmp_path, capsys):
    path = write_dump(tmp_path / 'preds.pkl')
    noise_a = write_dump(tmp_path / 'noise_a.pkl', occ_err_odd=15.0)
    noise_b = write_dump(tmp_path / 'noise_b.pkl', occ_err_odd=40.0)
    out_dir = tmp_path / 'figs'
    res = _main()([path, '--out-dir', str(out_dir), '--json', str(tmp_path / 'm.json'),
                   '--noise-dumps', f'0.1={noise_b}', f'0={noise_a}'])
    for name in ('pck_curves.png', 'pck_vs_invisible.png', 'roc.png', 'noise.png'):
        _valid_png(out_dir / name)
    out = capsys.readouterr().out
    m = res['metrics']
    # occluded: 3 + 6 + 9 = 18, hits at 0.1 = even indices: 2 + 3 + 5 = 10
    assert m['final/PCK@0.1_occluded'] == pytest.approx(10 / 18)
    assert m['final/PCK@0.2_occluded'] == 1.0 and m['init/PCK@0.1_occluded'] == 0.0
    assert m['final/PCK@0.1_visible'] == 1.0
    assert m['AUC/encoder'] == 1.0
    # heatmap: visible 0.7 (30 of them) vs occluded 0.4 (15) and 0.8 (3) -> 15/18
    assert m['AUC/heatmap'] == pytest.approx(15 / 18)
    lines = out.splitlines()
    # all labelled: 30 visible + 18 occluded; final hits 30 + 10, init 30 + 0
    assert '| final | 83.3 | 100.0 | 55.6 | 100.0 | 100.0 |' in lines
    assert '| init | 62.5 | 100.0 | 0.0 | 100.0 | 0.0 |' in lines
    assert '| encoder | 1.000 | 30 | 18 |' in lines
    assert '| heatmap | 0.833 | 30 | 18 |' in lines
    assert '| car | 55.6 |' in lines
    # per occlusion bin: 3/12 -> '0-25%', 6/12 -> '25-50%', 9/12 -> '50-75%'
    assert '| 0-25% | final | 1 | 9 | 3 | 100.0 | 66.7 | 100.0 | 100.0 |' in lines
    assert '| 50-75% | final | 1 | 3 | 9 | 100.0 | 55.6 | 100.0 | 100.0 |' in lines
    assert '| >75% | final | 0 | 0 | 0 | - | - | - | - |' in lines
    # noise table, sorted by level; odd occluded errors of 40 px still miss at 0.1
    assert '| 0 | 100.0 | 0.0 | 100.0 | 55.6 | - | - |' in lines
    assert '| 0.1 | 100.0 | 0.0 | 100.0 | 55.6 | - | - |' in lines
    assert res['noise']['0.1']['final/PCK@0.2_occluded'] == pytest.approx(10 / 18)
    assert osp.isfile(tmp_path / 'm.json')


def test_default_out_dir_and_count_bins(tmp_path, capsys):
    path = write_dump(tmp_path / 'preds.pkl')
    res = _main()([path, '--bins', 'count'])
    assert res['curves']['bins'] == ['0', '1-2', '3-4', '5-6', '7+']
    for f in res['files']:
        assert f.startswith(str(tmp_path / 'preds_occlusion'))
        _valid_png(f)
    assert '| 7+ | final | 1 | 3 | 9 |' in capsys.readouterr().out


def test_corrupt_or_missing_dump_names_the_file(tmp_path):
    path = tmp_path / 'corrupt.pkl'
    path.write_bytes(b'\x00garbage')
    with pytest.raises(SystemExit, match='cannot read dump .*corrupt.pkl'):
        _main()([str(path)])
    with pytest.raises(SystemExit, match='cannot read dump .*absent.pkl'):
        _main()([str(tmp_path / 'absent.pkl')])
    good = write_dump(tmp_path / 'good.pkl')
    with pytest.raises(SystemExit, match='cannot read dump .*corrupt.pkl'):
        _main()([good, '--noise-dumps', f'0.1={path}'])
    with pytest.raises(SystemExit, match='NAME=path'):
        _main()([good, '--noise-dumps', 'noequals'])
    empty = tmp_path / 'empty.pkl'
    empty.write_bytes(pickle.dumps([]))
    with pytest.raises(SystemExit, match='empty.pkl holds no predictions'):
        _main()([str(empty)])


def test_dump_without_the_needed_fields_names_them(tmp_path):
    cases = {
        'nopred': lambda s: s.pop('pred_instances'),
        'nostates': lambda s: s.pop('keypoint_states'),
        'nokpts': lambda s: s['pred_instances'].pop('keypoints'),
        'shape': lambda s: s['pred_instances'].update(init_keypoints=np.zeros((1, 12, 2))),
    }
    expect = {'nopred': "lacks 'pred_instances'", 'nostates': 'keypoint_states',
              'nokpts': "pred_instances has no 'keypoints'",
              'shape': r'pred_instances\.init_keypoints has shape \(1, 12, 2\)'}
    for name, edit in cases.items():
        sample = car(3)
        edit(sample)
        path = tmp_path / f'{name}.pkl'
        dump([sample], str(path))
        with pytest.raises(SystemExit, match=f'{name}.pkl: sample 0.*{expect[name]}'):
            _main()([str(path), '--out-dir', str(tmp_path / 'x')])

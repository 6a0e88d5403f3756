"""tools/analysis/det_class_agnostic.py: wrong categories cost the usual AP, not the
class-agnostic one; bad result files are named."""
import json
import os.path as osp
import runpy

import pytest

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'tools/analysis/det_class_agnostic.py')


def _dets(ann_file, relabel=False):
    with open(ann_file) as f:
        data = json.load(f)
    cats = sorted(c['id'] for c in data['categories'])
    out = []
    for a in data['annotations']:
        cat = a['category_id']
        if relabel:
            cat = cats[(cats.index(cat) + 1) % len(cats)]
        out.append(dict(image_id=a['image_id'], bbox=a['bbox'], score=0.9, category_id=cat))
    return out


def test_right_boxes_wrong_names(tiny_synth, tmp_path, capsys):
    tool = runpy.run_path(TOOL)
    ann = osp.join(tiny_synth, 'annotations/val.json')
    for relabel in (False, True):
        path = tmp_path / f'dets_{relabel}.bbox.json'
        path.write_text(json.dumps(_dets(ann, relabel)))
        res = tool['evaluate'](ann, str(path))
        assert res['class_agnostic']['AP50'] == pytest.approx(1.0)
        assert res['with_categories']['AP50'] == (pytest.approx(0.0) if relabel
                                                 else pytest.approx(1.0))
    tool['main']([ann, str(path)])
    out = capsys.readouterr().out
    assert 'class_agnostic' in out and 'AP50 per category' in out


def test_bad_results_are_named(tiny_synth, tmp_path):
    tool = runpy.run_path(TOOL)
    ann = osp.join(tiny_synth, 'annotations/val.json')
    empty, corrupt, alien = (tmp_path / n for n in ('empty.json', 'corrupt.json', 'alien.json'))
    empty.write_text('[]')
    corrupt.write_text('{not json')
    alien.write_text(json.dumps([dict(image_id=1, bbox=[0, 0, 5, 5], score=1.0,
                                      category_id=999)]))
    with pytest.raises(SystemExit, match='empty.json holds no detections'):
        tool['evaluate'](ann, str(empty))
    with pytest.raises(SystemExit, match='cannot read results .*corrupt.json'):
        tool['evaluate'](ann, str(corrupt))
    with pytest.raises(SystemExit, match=r'alien.json: category_id \[999\] not in'):
        tool['evaluate'](ann, str(alien))

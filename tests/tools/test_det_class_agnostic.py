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


def _hand_made(tmp_path):
    """3 images, 3 objects, 8 detections of known kinds (see the test)."""
    def ann(i, img, cat, box):
        return dict(id=i, image_id=img, category_id=cat, bbox=box, area=box[2] * box[3],
                    iscrowd=0)
    gt = dict(images=[dict(id=i, width=256, height=256, file_name=f'{i}.jpg')
                      for i in (1, 2, 3)],
              categories=[dict(id=1, name='car'), dict(id=2, name='bus')],
              annotations=[ann(1, 1, 1, [0, 0, 10, 10]), ann(2, 1, 2, [50, 50, 10, 10]),
                           ann(3, 2, 1, [0, 0, 20, 20])])
    dets = [
        dict(image_id=1, category_id=1, bbox=[0, 0, 10, 10], score=0.9),     # TP
        dict(image_id=1, category_id=1, bbox=[0, 0, 10, 10], score=0.8),     # duplicate
        dict(image_id=1, category_id=1, bbox=[50, 50, 10, 10], score=0.7),   # wrong category
        dict(image_id=1, category_id=2, bbox=[55, 55, 10, 10], score=0.6),   # IoU 0.14
        dict(image_id=1, category_id=2, bbox=[200, 200, 5, 5], score=0.5),   # background
        dict(image_id=2, category_id=1, bbox=[0, 0, 20, 20], score=0.2),     # TP, low score
        dict(image_id=2, category_id=1, bbox=[100, 100, 5, 5], score=0.05),  # under fp_score
        dict(image_id=3, category_id=1, bbox=[0, 0, 5, 5], score=0.4),       # no objects there
    ]
    ann_file, res_file = tmp_path / 'gt.json', tmp_path / 'dets.bbox.json'
    ann_file.write_text(json.dumps(gt))
    res_file.write_text(json.dumps(dets))
    return str(ann_file), str(res_file)


def test_error_breakdown_on_a_hand_made_case(tmp_path, capsys):
    tool = runpy.run_path(TOOL)
    ann, res = _hand_made(tmp_path)
    assert tool['error_breakdown'](ann, res) == dict(
        objects=3, found_any_score=2, found_at_score=1, true_positive=2, duplicate=1,
        wrong_category=1, poorly_placed=1, background=2)
    # the first image alone
    assert tool['error_breakdown'](ann, res, first_n=1) == dict(
        objects=2, found_any_score=1, found_at_score=1, true_positive=1, duplicate=1,
        wrong_category=1, poorly_placed=1, background=1)
    assert tool['evaluate'](ann, res, first_n=1)['num_images'] == 1
    tool['main']([ann, res, '--first-n', '2'])
    out = capsys.readouterr().out
    assert out.startswith('2 images')
    assert '3 objects; a right-category box with IoU >= 0.5: 2 (67 %) at any score' in out
    assert ('detections at score >= 0.1: true positive 2, duplicate 1, wrong category 1, '
            'poorly placed 1, background 1') in out


def test_first_n_is_checked(tmp_path):
    tool = runpy.run_path(TOOL)
    ann, res = _hand_made(tmp_path)
    with pytest.raises(SystemExit, match='--first-n must be >= 1, not 0'):
        tool['evaluate'](ann, res, first_n=0)
    dets = json.loads(open(res).read())
    only_third = tmp_path / 'third.bbox.json'
    only_third.write_text(json.dumps([d for d in dets if d['image_id'] == 3]))
    with pytest.raises(SystemExit, match='no detections on the first 2 images'):
        tool['evaluate'](ann, str(only_third), first_n=2)

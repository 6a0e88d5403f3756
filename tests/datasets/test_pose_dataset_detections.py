"""KplinkSynthPoseDataset(bbox_file=...): detected boxes matched to the ground truth."""
import json
import os.path as osp

import numpy as np
import pytest

from tests.datasets.test_kplink_synth_datasets import _pose_dataset


def _gt(root):
    with open(osp.join(root, 'annotations', 'val.json')) as f:
        return json.load(f)


def _write(tmp_path, dets, name='dets.bbox.json'):
    path = str(tmp_path / name)
    with open(path, 'w') as f:
        json.dump(dets, f)
    return path


def _detections_from_gt(coco, shift=1.0):
    anns = [a for a in coco['annotations'] if not a['iscrowd'] and a['num_keypoints']]
    return [dict(image_id=a['image_id'], category_id=a['category_id'],
                 bbox=[a['bbox'][0] + shift, a['bbox'][1], a['bbox'][2], a['bbox'][3]],
                 score=0.9) for a in anns], anns


def test_detections_take_over_matched_ground_truth(tiny_synth, tmp_path):
    coco = _gt(tiny_synth)
    dets, anns = _detections_from_gt(coco)
    # a false positive far from everything, and one below the score threshold
    img = coco['images'][0]
    dets.append(dict(image_id=img['id'], category_id=anns[0]['category_id'],
                     bbox=[0, 0, 3, 3], score=0.8))
    dets.append(dict(dets[0], score=0.1))
    ds = _pose_dataset(tiny_synth, 'val', test_mode=True,
                       bbox_file=_write(tmp_path, dets), det_score_thr=0.3)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    assert len(infos) == len(anns) + 1
    matched = [i for i in infos if i['det_matched']]
    assert len(matched) == len(anns)
    by_id = {a['id']: a for a in anns}
    for info in matched:
        ann = by_id[info['raw_ann_info']['id']]
        x, y, w, h = ann['bbox']
        np.testing.assert_allclose(info['bbox'][0], [x + 1, y, x + 1 + w, y + h], atol=1e-3)
        assert info['num_keypoints'] == ann['num_keypoints']  # carries the GT keypoints
    fp = [i for i in infos if not i['det_matched']]
    assert len(fp) == 1 and fp[0]['keypoint_states'].sum() == 0
    assert int(fp[0]['category_id']) == anns[0]['category_id']


def test_empty_detection_list_names_the_file(tiny_synth, tmp_path):
    path = _write(tmp_path, [], 'empty.bbox.json')
    with pytest.raises(ValueError, match='empty.bbox.json.*empty'):
        _pose_dataset(tiny_synth, 'val', test_mode=True, bbox_file=path)


def test_detection_of_unknown_category_names_the_value(tiny_synth, tmp_path):
    dets, _ = _detections_from_gt(_gt(tiny_synth))
    dets[0]['category_id'] = 999
    with pytest.raises(ValueError, match='999'):
        _pose_dataset(tiny_synth, 'val', test_mode=True, bbox_file=_write(tmp_path, dets))


def test_malformed_detection_names_index_and_field(tiny_synth, tmp_path):
    dets, _ = _detections_from_gt(_gt(tiny_synth))
    del dets[2]['score']
    with pytest.raises(ValueError, match=r"detection 2 has no \['score'\]"):
        _pose_dataset(tiny_synth, 'val', test_mode=True, bbox_file=_write(tmp_path, dets))
    dets, _ = _detections_from_gt(_gt(tiny_synth))
    dets[1]['image_id'] = 123456
    with pytest.raises(ValueError, match='123456'):
        _pose_dataset(tiny_synth, 'val', test_mode=True, bbox_file=_write(tmp_path, dets))

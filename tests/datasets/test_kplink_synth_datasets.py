"""The mmpose and mmdet dataset classes over kplink-synth annotation files."""
import json
import os.path as osp
import shutil

import numpy as np
import pytest
from mmengine.registry import init_default_scope


def _copy_root(src, dst):
    shutil.copytree(src, dst)
    return str(dst)


def _edit_first_annotation(root, split, edit):
    path = osp.join(root, 'annotations', f'{split}.json')
    with open(path) as f:
        coco = json.load(f)
    ann = next(a for a in coco['annotations'] if not a['iscrowd'] and a['num_keypoints'])
    edit(ann, coco)
    with open(path, 'w') as f:
        json.dump(coco, f)
    return ann['id']


def _pose_dataset(root, split='train', **kw):
    from mmpose.registry import DATASETS

    import kplink_mm  # noqa: F401
    init_default_scope('mmpose')
    return DATASETS.build(dict(
        type='KplinkSynthPoseDataset', data_root=root, ann_file=f'annotations/{split}.json',
        data_prefix=dict(img=''), pipeline=[], **kw))


def test_pose_dataset_fills_only_the_category_slice(tiny_synth):
    ds = _pose_dataset(tiny_synth)
    meta = ds.metainfo
    slices = meta['category_slices']
    assert meta['num_keypoints'] == sum(n for _, n in slices.values()) == 97
    with open(osp.join(tiny_synth, 'annotations', 'train.json')) as f:
        coco = json.load(f)
    anns = {a['id']: a for a in coco['annotations']}
    id2name = {c['id']: c['name'] for c in coco['categories']}
    assert len(ds) > 0
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        ann = anns[info['id']]
        start, n = slices[id2name[ann['category_id']]]
        assert info['category_slice'] == (start, n)
        kpts = np.array(ann['keypoints'], dtype=np.float32).reshape(n, 3)
        np.testing.assert_allclose(info['keypoints'][0, start:start + n], kpts[:, :2])
        outside = np.ones(97, bool)
        outside[start:start + n] = False
        assert not info['keypoints_visible'][0, outside].any()
        assert not info['keypoints'][0, outside].any()
        np.testing.assert_array_equal(info['keypoint_states'][0, start:start + n],
                                      ann['keypoint_states'])
        assert not ann['iscrowd']


def test_pose_dataset_visible_only_weights(tiny_synth):
    """keypoint_visibility='visible' weights exactly the visible keypoints (state 2)."""
    labelled = _pose_dataset(tiny_synth)
    visible = _pose_dataset(tiny_synth, keypoint_visibility='visible')
    n_occluded = 0
    for i in range(len(visible)):
        a, b = labelled.get_data_info(i), visible.get_data_info(i)
        states = b['keypoint_states'][0]
        np.testing.assert_array_equal(b['keypoints_visible'][0], states == 2)
        np.testing.assert_array_equal(a['keypoints_visible'][0], states > 0)
        n_occluded += int((states == 1).sum())
    assert n_occluded > 0  # the tiny split has occluded keypoints to drop
    with pytest.raises(ValueError, match='keypoint_visibility'):
        _pose_dataset(tiny_synth, keypoint_visibility='amodal')


def test_pose_dataset_category_subset(tiny_synth):
    """categories=['car'] gives CarFusion's 12-slot layout and skips other classes."""
    full = _pose_dataset(tiny_synth)
    cars = _pose_dataset(tiny_synth, categories=['car'])
    assert cars.metainfo['num_keypoints'] == 12
    assert list(cars.metainfo['category_slices']) == ['car']
    n_cars = sum(1 for i in range(len(full))
                 if full.get_data_info(i)['category_id'] == cars[0]['category_id'])
    assert 0 < len(cars) == n_cars < len(full)
    info = cars.get_data_info(0)
    assert info['keypoints'].shape == (1, 12, 2) and info['category_slice'] == (0, 12)
    with pytest.raises(KeyError, match='spaceship'):
        _pose_dataset(tiny_synth, categories=['spaceship'])


def test_pose_flip_indices_stay_inside_each_category(tiny_synth):
    ds = _pose_dataset(tiny_synth)
    flip = np.asarray(ds.metainfo['flip_indices'])
    for start, n in ds.metainfo['category_slices'].values():
        block = flip[start:start + n]
        assert block.min() >= start and block.max() < start + n
        np.testing.assert_array_equal(flip[block], np.arange(start, start + n))


def test_pose_dataset_malformed_keypoints_names_file_and_id(tiny_synth, tmp_path):
    root = _copy_root(tiny_synth, tmp_path / 'd')
    ann_id = _edit_first_annotation(root, 'train', lambda a, c: a['keypoints'].pop())
    with pytest.raises(ValueError, match=rf'train\.json.*id={ann_id}.*"keypoints"'):
        _pose_dataset(root)


def test_pose_dataset_unknown_category_names_value(tiny_synth, tmp_path):
    root = _copy_root(tiny_synth, tmp_path / 'd')
    _edit_first_annotation(root, 'train', lambda a, c: a.update(category_id=99))
    with pytest.raises(ValueError, match=r'train\.json.*category_id=99'):
        _pose_dataset(root)


def test_pose_dataset_bad_bbox_names_field(tiny_synth, tmp_path):
    root = _copy_root(tiny_synth, tmp_path / 'd')
    _edit_first_annotation(root, 'train', lambda a, c: a.update(bbox=[1, 2]))
    with pytest.raises(ValueError, match=r'"bbox"'):
        _pose_dataset(root)


def test_missing_non_default_split_says_how_to_generate(tiny_synth):
    with pytest.raises(FileNotFoundError, match='generate_synth.py'):
        _pose_dataset(tiny_synth, split='nonexistent_split')


def test_corrupt_image_error_names_the_file(tiny_synth, tmp_path):
    root = _copy_root(tiny_synth, tmp_path / 'd')
    ds = _pose_dataset(root)
    info = ds.get_data_info(0)
    with open(info['img_path'], 'wb') as f:
        f.write(b'not a jpeg at all')
    from mmpose.datasets.transforms import LoadImage
    with pytest.raises(Exception, match=osp.basename(info['img_path'])):
        LoadImage()(dict(img_path=info['img_path']))


def _det_dataset(root, split='train'):
    from mmdet.registry import DATASETS

    import kplink_mm  # noqa: F401
    init_default_scope('mmdet')
    return DATASETS.build(dict(
        type='KplinkSynthDetDataset', data_root=root, ann_file=f'annotations/{split}.json',
        data_prefix=dict(img=''), pipeline=[]))


def test_det_dataset_boxes_and_labels(tiny_synth):
    ds = _det_dataset(tiny_synth)
    assert len(ds.metainfo['classes']) == 10
    n_inst = 0
    for i in range(len(ds)):
        for inst in ds.get_data_info(i)['instances']:
            assert 0 <= inst['bbox_label'] < 10
            x1, y1, x2, y2 = inst['bbox']
            assert x2 > x1 and y2 > y1
            n_inst += 1
    assert n_inst > 0


def test_det_dataset_unknown_category_names_value(tiny_synth, tmp_path):
    root = _copy_root(tiny_synth, tmp_path / 'd')
    _edit_first_annotation(root, 'train', lambda a, c: a.update(category_id=42))
    with pytest.raises(ValueError, match=r'train\.json.*category_id=42'):
        _det_dataset(root)


@pytest.mark.parametrize('views, scenes, seed', [(3, 3, 5), (6, 1, 3)])   # mv_train; mv6_train
def test_pose_dataset_links_other_views_of_the_same_instance(tmp_path, views, scenes, seed):
    from kplink_mm.datasets.synth.generator import generate_split
    from kplink_mm.geometry.camera import project_points
    root = str(tmp_path)
    generate_split(root, 'mv', num_scenes=scenes, views=views, seed=seed,
                   image_size=(96, 96), workers=1, progress=False)
    ds = _pose_dataset(root, split='mv')
    with open(osp.join(root, 'annotations', 'mv.json')) as f:
        coco = json.load(f)
    anns = {a['id']: a for a in coco['annotations']}
    linked = 0
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert 1 <= len(info['other_views']) <= views - 1
        start, n = info['category_slice']
        assert all(0 <= a < n and 0 <= b < n for a, b in info['category_skeleton'])
        for other in info['other_views']:
            assert other['view_id'] != info['view_id']
            # The other view's camera reproduces its keypoints from this instance's 3D points.
            cam = other['camera']
            uv, _ = project_points(np.array(anns[info['id']]['keypoints_3d']),
                                   np.array(cam['K']), np.array(cam['R']), np.array(cam['t']))
            seen = other['keypoint_states'] > 0
            np.testing.assert_allclose(uv[seen], other['keypoints'][seen], atol=0.05)
            linked += 1
    assert linked > 0
    # every other view of some instance is linked, however many views there are
    assert max(len(ds.get_data_info(i)['other_views']) for i in range(len(ds))) == views - 1

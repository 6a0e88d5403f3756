import hashlib
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest

from kplink_mm.datasets.synth import generator as gen
from kplink_mm.datasets.synth.categories import CATEGORIES
from kplink_mm.geometry.camera import project_points

REPO = osp.abspath(osp.join(osp.dirname(__file__), '..', '..', '..'))


def _load(root, split):
    with open(osp.join(root, 'annotations', f'{split}.json')) as f:
        return json.load(f)


def _digest(root):
    h = {}
    for dirpath, _, files in os.walk(root):
        for fn in files:
            p = osp.join(dirpath, fn)
            with open(p, 'rb') as f:
                h[osp.relpath(p, root)] = hashlib.sha256(f.read()).hexdigest()
    return h


@pytest.fixture(scope='module')
def small_split(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth'))
    summary = gen.generate_split(root, 'train', num_scenes=8, views=1, seed=3, workers=1,
                                 progress=False)
    return root, _load(root, 'train'), summary


@pytest.fixture(scope='module')
def mv_split(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('synth_mv'))
    summary = gen.generate_split(root, 'mv', num_scenes=16, views=3, seed=0, workers=2,
                                 progress=False)
    return root, _load(root, 'mv'), summary


def test_schema_and_files(small_split):
    root, coco, summary = small_split
    assert summary['num_images'] == 8 == len(coco['images'])
    assert coco['info']['seed'] == 3 and coco['info']['split'] == 'train'
    assert [c['id'] for c in coco['categories']] == list(range(1, len(CATEGORIES) + 1))
    cats = {c['id']: c for c in coco['categories']}
    for c in coco['categories']:
        spec = CATEGORIES[c['name']]
        assert c['keypoints'] == list(spec.keypoint_names)
        assert c['skeleton'] == [[a + 1, b + 1] for a, b in spec.skeleton]
        assert c['flip_pairs'] == [list(p) for p in spec.flip_pairs]
    import cv2
    for im in coco['images']:
        assert im['file_name'] == f"train/images/{im['scene_id']:06d}_{im['view_id']:02d}.jpg"
        img = cv2.imread(osp.join(root, im['file_name']))
        assert img.shape == (im['height'], im['width'], 3) == (256, 256, 3)
        assert np.asarray(im['camera']['K']).shape == (3, 3)
    ids = [a['id'] for a in coco['annotations']]
    assert ids == list(range(1, len(ids) + 1))
    assert len(coco['annotations']) >= 8
    for a in coco['annotations']:
        n = len(cats[a['category_id']]['keypoints'])
        kps = np.asarray(a['keypoints']).reshape(-1, 3)
        assert kps.shape == (n, 3)
        st = np.asarray(a['keypoint_states'])
        np.testing.assert_array_equal(kps[:, 2], st)
        assert a['num_keypoints'] == int((st > 0).sum())
        assert (kps[st == 0, :2] == 0).all()
        assert len(a['occluders']) == n and len(a['keypoints_3d']) == n
        assert all(o == -1 for o, s in zip(a['occluders'], st) if s != 1)
        assert all(o >= 0 for o, s in zip(a['occluders'], st) if s == 1)
        x, y, w, h = a['bbox']
        assert 0 <= x and 0 <= y and x + w <= 256 and y + h <= 256 and w > 0 and h > 0
        assert a['area'] <= w * h
        assert a['iscrowd'] == int(a['area'] < gen.MIN_VISIBLE_PIXELS)
        ax, ay, aw, ah = a['amodal_bbox']
        assert ax <= x + 1e-6 and ay <= y + 1e-6 and ax + aw >= x + w - 1e-2
        np.testing.assert_allclose(a['keypoints_canonical'],
                                   CATEGORIES[cats[a['category_id']]['name']]
                                   .canonical_keypoints(), atol=1e-5)
        assert set(a) >= {'R_obj', 't_obj', 'scale', 'shape_params', 'instance_id',
                          'scene_id', 'truncated'}


def _check_projection(coco):
    imgs = {im['id']: im for im in coco['images']}
    for a in coco['annotations']:
        cam = imgs[a['image_id']]['camera']
        uv, z = project_points(np.asarray(a['keypoints_3d']), cam['K'], cam['R'], cam['t'])
        np.testing.assert_allclose(uv, a['keypoints_proj'], atol=5e-3)
        kps = np.asarray(a['keypoints']).reshape(-1, 3)
        on = kps[:, 2] > 0
        np.testing.assert_allclose(kps[on, :2], uv[on], atol=5e-3)
        inside = (uv[:, 0] >= 0) & (uv[:, 0] < 256) & (uv[:, 1] >= 0) & (uv[:, 1] < 256)
        np.testing.assert_array_equal(inside, on)
        # the 3D keypoints are the posed model keypoints
        R, t, s = np.asarray(a['R_obj']), np.asarray(a['t_obj']), a['scale']
        assert np.allclose(R @ R.T, np.eye(3), atol=1e-6)


def test_projection_of_3d_keypoints_matches_2d_labels(small_split, mv_split):
    _check_projection(small_split[1])
    _check_projection(mv_split[1])


def test_same_seed_identical_bytes_and_workers_independent(tmp_path):
    a, b, c = (str(tmp_path / n) for n in 'abc')
    gen.generate_split(a, 'val', 6, views=2, seed=11, workers=1, progress=False)
    gen.generate_split(b, 'val', 6, views=2, seed=11, workers=2, progress=False)
    gen.generate_split(c, 'val', 6, views=2, seed=12, workers=1, progress=False)
    da, db, dc = _digest(a), _digest(b), _digest(c)
    assert da == db
    assert len(da) == 6 * 2 + 1
    assert da['annotations/val.json'] != dc['annotations/val.json']
    # scenes do not depend on how many scenes the split has
    d = str(tmp_path / 'd')
    gen.generate_split(d, 'val', 3, views=2, seed=11, workers=1, progress=False)
    dd = _digest(d)
    for k, v in dd.items():
        if k.endswith('.jpg'):
            assert da[k] == v


def test_multiview_consistency_and_occlusion_recovery(mv_split):
    root, coco, summary = mv_split
    imgs = {im['id']: im for im in coco['images']}
    per_instance = {}
    for a in coco['annotations']:
        im = imgs[a['image_id']]
        assert a['scene_id'] == im['scene_id'] and a['view_id'] == im['view_id']
        per_instance.setdefault((a['scene_id'], a['instance_id']), []).append(a)
    # instance ids are consistent: same category, pose and 3D keypoints in every view
    multi = 0
    for anns in per_instance.values():
        ref = anns[0]
        multi += len(anns) > 1
        for a in anns[1:]:
            assert a['category_id'] == ref['category_id']
            assert a['keypoints_3d'] == ref['keypoints_3d']
            assert a['t_obj'] == ref['t_obj']
            assert a['view_id'] != ref['view_id']
    assert multi > 0.8 * len(per_instance)
    # each view's camera reproduces that view's 2D keypoints from the shared 3D points
    for anns in per_instance.values():
        X = np.asarray(anns[0]['keypoints_3d'])
        for a in anns:
            cam = imgs[a['image_id']]['camera']
            uv, _ = project_points(X, cam['K'], cam['R'], cam['t'])
            np.testing.assert_allclose(uv, a['keypoints_proj'], atol=5e-3)
    # cameras differ between views of a scene
    by_scene = {}
    for im in coco['images']:
        by_scene.setdefault(im['scene_id'], []).append(np.asarray(im['camera']['R']))
    for Rs in by_scene.values():
        assert len(Rs) == 3 and not np.allclose(Rs[0], Rs[1])
    stats = gen.occlusion_recovery(coco)
    frac = stats['frac_occluded_visible_in_2_other_views']
    print(f"\noccluded keypoints: {stats['num_occluded_keypoints']}, visible in >=2 other "
          f'views: {frac:.3f}')
    assert stats['num_occluded_keypoints'] > 50
    assert frac > 0.25
    assert summary['frac_occluded_visible_in_2_other_views'] == frac


def test_unknown_category_is_reported(tmp_path):
    with pytest.raises(KeyError, match='hovercraft'):
        gen.generate_split(str(tmp_path), 'x', 1, categories=['car', 'hovercraft'],
                           progress=False)
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'dataset_converters',
                                                 'generate_synth.py'),
                        '--out', str(tmp_path / 'o'), '--num-scenes', '1',
                        '--categories', 'car', 'hovercraft'],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode != 0
    assert 'hovercraft' in r.stderr and 'bicycle' in r.stderr


def test_category_subset_and_cli_relative_out(tmp_path):
    r = subprocess.run([sys.executable, osp.join(REPO, 'tools', 'dataset_converters',
                                                 'generate_synth.py'),
                        '--out', 'rel_out', '--split', 'sub', '--num-scenes', '3', '--views', '2',
                        '--categories', 'chair', 'sofa', '--workers', '1', '--quiet',
                        '--image-size', '96', '128'],
                       capture_output=True, text=True, cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr
    coco = _load(str(tmp_path / 'rel_out'), 'sub')
    assert {c['name'] for c in coco['categories']} == {'chair', 'sofa'}
    assert {a['category_id'] for a in coco['annotations']} <= {3, 4}
    assert len(coco['images']) == 6
    assert all(im['height'] == 96 and im['width'] == 128 for im in coco['images'])


def test_ensure_default_synth_generates_once(tmp_path, monkeypatch):
    monkeypatch.setattr(gen, 'DEFAULT_SPLITS', {'train': dict(num_scenes=2, views=1),
                                                'mv_val': dict(num_scenes=1, views=3)})
    root = str(tmp_path / 'data')
    files = gen.ensure_default_synth(root, workers=1, progress=False)
    assert set(files) == {'train', 'mv_val'}
    assert osp.isfile(osp.join(root, gen.COMPLETE_MARKER))
    mtime = os.path.getmtime(files['train'])
    files2 = gen.ensure_default_synth(root, workers=1, progress=False)
    assert files2 == files and os.path.getmtime(files['train']) == mtime
    # a changed configuration regenerates
    monkeypatch.setattr(gen, 'DEFAULT_SPLITS', {'train': dict(num_scenes=3, views=1)})
    gen.ensure_default_synth(root, workers=1, progress=False)
    assert len(_load(root, 'train')['images']) == 3


def test_benchmark_rows():
    rows = gen.benchmark(((64, 96),), num_scenes=2)
    assert rows[0]['images'] == 2 and rows[0]['images_per_second_per_core'] > 0

"""Write kplink-synth splits: JPEG images + COCO-keypoint annotation files.

Layout under ``out_root``::

    <split>/images/<scene:06d>_<view:02d>.jpg
    annotations/<split>.json
    .kplink_synth_complete.json      (written by ensure_default_synth)

Every scene draws from its own generator seeded by ``(seed, split, scene index)``
(:func:`~.scene.scene_seed_sequence`), so the output is byte-identical whatever the number
of worker processes. The schema is documented in ``docs/synth_schema.md``.
"""
import json
import os
import os.path as osp
import sys
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .categories import CATEGORIES, get_category
from .scene import (STATE_OCCLUDED, STATE_OUTSIDE, STATE_VISIBLE, Camera, Scene,
                    compute_visibility, make_cameras, make_scene, render_view,
                    scene_seed_sequence)

__all__ = ['GENERATOR_VERSION', 'DEFAULT_SPLITS', 'DEFAULT_SEED', 'DEFAULT_IMAGE_SIZE',
           'MIN_VISIBLE_PIXELS', 'COMPLETE_MARKER', 'generate_split', 'ensure_default_synth',
           'render_scene_records', 'categories_json', 'occlusion_recovery',
           'split_statistics', 'benchmark']

GENERATOR_VERSION = '1.1'  # 1.1: diningtable front drawer + runner (names identifiable)
#: the default benchmark; ``ensure_default_synth`` generates exactly these splits
DEFAULT_SPLITS: Dict[str, Dict[str, int]] = {
    'train': dict(num_scenes=1500, views=1),
    'val': dict(num_scenes=300, views=1),
    'test': dict(num_scenes=300, views=1),
    'mv_train': dict(num_scenes=300, views=3),
    'mv_val': dict(num_scenes=100, views=3),
}
DEFAULT_SEED = 0
DEFAULT_IMAGE_SIZE = (256, 256)   # (H, W)
DEFAULT_MAX_INSTANCES = 3
#: instances with fewer visible pixels are marked iscrowd=1 (ignore regions);
#: instances with no visible pixel get no annotation at all
MIN_VISIBLE_PIXELS = 64
COMPLETE_MARKER = '.kplink_synth_complete.json'
JPEG_QUALITY = 95


def _round(a, nd: int) -> list:
    return np.round(np.asarray(a, dtype=np.float64), nd).tolist()


def _bbox_xywh(x0, y0, x1, y1) -> List[float]:
    return [float(x0), float(y0), float(x1 - x0), float(y1 - y0)]


def categories_json(categories: Optional[Sequence] = None) -> List[dict]:
    """COCO ``categories`` entries (skeleton 1-based as in COCO, flip pairs 0-based)."""
    specs = [get_category(c) for c in (categories or CATEGORIES)]
    return [dict(id=c.id, name=c.name, supercategory='object',
                 keypoints=list(c.keypoint_names),
                 skeleton=[[a + 1, b + 1] for a, b in c.skeleton],
                 flip_pairs=[list(p) for p in c.flip_pairs]) for c in specs]


def _annotations_for_view(scene: Scene, cam: Camera, depth: np.ndarray,
                          instance_map: np.ndarray) -> List[dict]:
    H, W = cam.height, cam.width
    labels = compute_visibility(scene, cam, depth, instance_map)
    counts = np.bincount(instance_map[instance_map >= 0].ravel(),
                         minlength=len(scene.instances))
    anns = []
    for inst in scene.instances:
        iid = inst.instance_id
        area = int(counts[iid]) if iid < len(counts) else 0
        if area == 0:
            continue  # fully hidden or out of view: not annotated
        ys, xs = np.nonzero(instance_map == iid)
        bbox = _bbox_xywh(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)   # pixel edges
        uvv, zv = cam.project(inst.vertices_world)
        uvv = uvv[zv > 0]
        ax0, ay0 = uvv.min(0)
        ax1, ay1 = uvv.max(0)
        truncated = bool(ax0 < 0 or ay0 < 0 or ax1 > W or ay1 > H)
        # projected mesh extent clipped to the image; the union with the pixel box
        # makes it contain the visible box (pixel edges may overhang by < 0.5 px)
        vx0, vy0, vx1, vy1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
        amodal = _bbox_xywh(max(min(ax0, vx0), 0.0), max(min(ay0, vy0), 0.0),
                            min(max(ax1, vx1), W), min(max(ay1, vy1), H))
        lab = labels[iid]
        n = len(lab.states)
        kps = np.zeros((n, 3))
        on = lab.states > STATE_OUTSIDE
        kps[on, :2] = lab.uv[on]
        kps[:, 2] = lab.states          # COCO v: 0 / 1 occluded / 2 visible
        cat = inst.category
        anns.append(dict(
            category_id=cat.id, bbox=_round(bbox, 2), amodal_bbox=_round(amodal, 2),
            area=area, iscrowd=int(area < MIN_VISIBLE_PIXELS), truncated=truncated,
            keypoints=[round(float(x), 3) if k % 3 != 2 else int(x)
                       for k, x in enumerate(kps.ravel())],
            num_keypoints=int(on.sum()),
            keypoint_states=lab.states.astype(int).tolist(),
            keypoints_proj=_round(lab.uv, 3),
            keypoints_3d=_round(inst.keypoints_world, 6),
            keypoints_canonical=_round(cat.canonical_keypoints(), 5),
            occluders=lab.occluders.astype(int).tolist(),
            instance_id=iid, scene_id=scene.scene_id, view_id=cam.view_id,
            R_obj=_round(inst.R_obj, 8), t_obj=_round(inst.t_obj, 6),
            scale=round(float(inst.scale), 6),
            shape_params={k: round(v, 6) for k, v in inst.model.shape_params.items()},
        ))
    return anns


def render_scene_records(split: str, scene_index: int, views: int, seed: int,
                         image_size: Tuple[int, int] = DEFAULT_IMAGE_SIZE,
                         categories: Optional[Sequence[str]] = None,
                         max_instances: int = DEFAULT_MAX_INSTANCES
                         ) -> List[Tuple[dict, List[dict], np.ndarray]]:
    """Sample and render one scene; per view ``(image record, annotations, RGB image)``.
    Image/annotation ids are assigned by the caller."""
    rng_scene, rng_cam, rng_img = (np.random.default_rng(s) for s in
                                   scene_seed_sequence(seed, split, scene_index).spawn(3))
    scene = make_scene(rng_scene, categories=categories, max_instances=max_instances,
                       scene_id=scene_index)
    cams = make_cameras(rng_cam, scene, views, image_size)
    out = []
    for cam in cams:
        img, res = render_view(scene, cam, rng_img)
        rec = dict(file_name=f'{split}/images/{scene_index:06d}_{cam.view_id:02d}.jpg',
                   width=cam.width, height=cam.height, scene_id=scene_index,
                   view_id=cam.view_id,
                   camera=dict(K=_round(cam.K, 8), R=_round(cam.R, 10), t=_round(cam.t, 8)))
        out.append((rec, _annotations_for_view(scene, cam, res.depth, res.instance_map), img))
    return out


def _encode_jpeg(img: np.ndarray) -> bytes:
    try:
        import cv2
    except ImportError:
        cv2 = None
    if cv2 is not None:
        ok, buf = cv2.imencode('.jpg', np.ascontiguousarray(img[..., ::-1]),
                               [int(cv2.IMWRITE_JPEG_QUALITY), JPEG_QUALITY])
        if not ok:
            raise RuntimeError('cv2.imencode failed')
        return buf.tobytes()
    try:
        import io

        from PIL import Image
    except ImportError as e:  # pragma: no cover
        raise ImportError('writing kplink-synth images needs opencv-python or pillow') from e
    bio = io.BytesIO()
    Image.fromarray(img).save(bio, format='JPEG', quality=JPEG_QUALITY)
    return bio.getvalue()


def _scene_job(job):
    out_root, split, idx, views, seed, image_size, categories, max_instances = job
    res = render_scene_records(split, idx, views, seed, image_size, categories, max_instances)
    recs = []
    for rec, anns, img in res:
        path = osp.join(out_root, rec['file_name'])
        data = _encode_jpeg(img)
        tmp = path + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, path)
        recs.append((rec, anns))
    return idx, recs


class _Progress:
    def __init__(self, total: int, desc: str, enabled: bool):
        self.total, self.desc, self.n = total, desc, 0
        self.bar = None
        self.enabled = enabled
        self.next_print = 0
        if enabled:
            try:
                from tqdm import tqdm
                self.bar = tqdm(total=total, desc=desc, unit='scene', leave=True)
            except ImportError:
                pass

    def update(self):
        self.n += 1
        if self.bar is not None:
            self.bar.update(1)
        elif self.enabled and (self.n >= self.next_print or self.n == self.total):
            print(f'{self.desc}: {self.n}/{self.total} scenes', file=sys.stderr, flush=True)
            self.next_print = self.n + max(1, self.total // 10)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _pool_context():
    import multiprocessing as mp
    # fork avoids re-importing the (heavy) package in every worker; the scene
    # generators are seeded per scene, so the start method cannot change results.
    return mp.get_context('fork' if 'fork' in mp.get_all_start_methods() else None)


def generate_split(out_root: str, split: str, num_scenes: int, views: int = 1, seed: int = 0,
                   image_size: Tuple[int, int] = DEFAULT_IMAGE_SIZE,
                   categories: Optional[Sequence[str]] = None,
                   max_instances: int = DEFAULT_MAX_INSTANCES, workers: int = 2,
                   progress: bool = True) -> dict:
    """Generate ``num_scenes`` scenes x ``views`` views of ``split`` under ``out_root``.

    ``image_size`` is ``(H, W)``; ``categories`` restricts the categories (names or
    ids; the annotation file still lists them in registry order). Returns a
    summary dict (counts, timing and :func:`split_statistics`).
    """
    if num_scenes < 1 or views < 1:
        raise ValueError(f'num_scenes ({num_scenes}) and views ({views}) must be >= 1')
    if not split or any(c in split for c in '/\\') or split.startswith('.'):
        raise ValueError(f'bad split name {split!r}')
    cat_names = None
    if categories is not None:
        specs = [get_category(c) for c in categories]
        cat_names = tuple(dict.fromkeys(s.name for s in specs))
    H, W = int(image_size[0]), int(image_size[1])
    t0 = time.time()
    os.makedirs(osp.join(out_root, split, 'images'), exist_ok=True)
    os.makedirs(osp.join(out_root, 'annotations'), exist_ok=True)
    jobs = [(out_root, split, i, int(views), int(seed), (H, W), cat_names, int(max_instances))
            for i in range(num_scenes)]
    results = [None] * num_scenes
    prog = _Progress(num_scenes, f'kplink-synth {split}', progress)
    workers = max(1, int(workers or 1))
    if workers == 1 or num_scenes == 1:
        for job in jobs:
            i, recs = _scene_job(job)
            results[i] = recs
            prog.update()
    else:
        with _pool_context().Pool(min(workers, num_scenes)) as pool:
            for i, recs in pool.imap_unordered(_scene_job, jobs, chunksize=4):
                results[i] = recs
                prog.update()
    prog.close()
    images, annotations = [], []
    for i in range(num_scenes):
        for rec, anns in results[i]:
            rec = dict(rec, id=i * views + rec['view_id'] + 1)
            images.append(rec)
            for a in sorted(anns, key=lambda a: a['instance_id']):
                annotations.append(dict(a, id=len(annotations) + 1, image_id=rec['id']))
    used = None if cat_names is None else set(cat_names)
    coco = dict(
        info=dict(description='kplink-synth: procedural keypoint + link benchmark',
                  generator_version=GENERATOR_VERSION, seed=int(seed), split=split,
                  views=int(views), num_scenes=int(num_scenes), image_size=[H, W],
                  max_instances=int(max_instances),
                  categories=list(cat_names) if cat_names else list(CATEGORIES)),
        images=images, annotations=annotations,
        categories=categories_json([c for c in CATEGORIES if used is None or c in used]))
    ann_path = osp.join(out_root, 'annotations', f'{split}.json')
    tmp = ann_path + '.tmp'
    with open(tmp, 'w') as f:
        json.dump(coco, f, sort_keys=True, separators=(',', ':'))
    os.replace(tmp, ann_path)
    summary = dict(split=split, annotation_file=ann_path, num_images=len(images),
                   num_annotations=len(annotations), seconds=time.time() - t0)
    summary.update(split_statistics(coco))
    return summary


def split_statistics(coco: dict) -> dict:
    """Keypoint-state fractions, truncation/crowd counts and (multi-view) occlusion
    recovery of a loaded annotation dict."""
    states = np.concatenate([np.asarray(a['keypoint_states']) for a in coco['annotations']]) \
        if coco['annotations'] else np.zeros(0)
    n = max(len(states), 1)
    anns = coco['annotations']
    stats = dict(
        frac_visible=float((states == STATE_VISIBLE).sum() / n),
        frac_occluded=float((states == STATE_OCCLUDED).sum() / n),
        frac_outside=float((states == STATE_OUTSIDE).sum() / n),
        frac_truncated=float(np.mean([a['truncated'] for a in anns])) if anns else 0.0,
        num_crowd=int(sum(a['iscrowd'] for a in anns)),
    )
    if coco['info'].get('views', 1) > 1:
        stats.update(occlusion_recovery(coco))
    return stats


def occlusion_recovery(coco: dict, min_other_views: int = 2) -> dict:
    """Among keypoints occluded in some view, the fraction visible in at least
    ``min_other_views`` other views of the same scene (instances not annotated in a
    view count as not visible there)."""
    img_view = {im['id']: (im['scene_id'], im['view_id']) for im in coco['images']}
    table: Dict[Tuple[int, int], Dict[int, np.ndarray]] = {}
    for a in coco['annotations']:
        sid, vid = img_view[a['image_id']]
        table.setdefault((sid, a['instance_id']), {})[vid] = np.asarray(a['keypoint_states'])
    occluded = recovered = 0
    for per_view in table.values():
        for vid, st in per_view.items():
            occ = st == STATE_OCCLUDED
            if not occ.any():
                continue
            others = sum((s == STATE_VISIBLE).astype(int) for v, s in per_view.items()
                         if v != vid) if len(per_view) > 1 else np.zeros_like(st)
            occluded += int(occ.sum())
            recovered += int((occ & (others >= min_other_views)).sum())
    return {'num_occluded_keypoints': occluded,
            f'frac_occluded_visible_in_{min_other_views}_other_views':
                recovered / max(occluded, 1)}


def _marker_payload() -> dict:
    return dict(version=GENERATOR_VERSION, seed=DEFAULT_SEED, splits=DEFAULT_SPLITS,
                image_size=list(DEFAULT_IMAGE_SIZE), max_instances=DEFAULT_MAX_INSTANCES)


def ensure_default_synth(data_root: str, workers: Optional[int] = None,
                         progress: bool = True, force: bool = False) -> Dict[str, str]:
    """Generate the default splits (:data:`DEFAULT_SPLITS`) under ``data_root``
    unless the completion marker says they are already there (same generator
    version and split sizes) and all annotation files exist. Returns
    ``{split: annotation file}``. Callers running in parallel must serialise the
    call (``kplink_mm.datasets.synth_prepare`` holds a file lock)."""
    data_root = osp.abspath(data_root)
    marker = osp.join(data_root, COMPLETE_MARKER)
    files = {s: osp.join(data_root, 'annotations', f'{s}.json') for s in DEFAULT_SPLITS}
    if not force and osp.isfile(marker) and all(osp.isfile(f) for f in files.values()):
        try:
            with open(marker) as f:
                if json.load(f).get('config') == json.loads(json.dumps(_marker_payload())):
                    return files
        except (OSError, ValueError):
            pass
    if osp.exists(marker):
        os.remove(marker)
    workers = workers or min(2, os.cpu_count() or 1)
    t0 = time.time()
    summaries = {}
    for split, cfg in DEFAULT_SPLITS.items():
        summaries[split] = generate_split(
            data_root, split, cfg['num_scenes'], cfg['views'], seed=DEFAULT_SEED,
            image_size=DEFAULT_IMAGE_SIZE, max_instances=DEFAULT_MAX_INSTANCES,
            workers=workers, progress=progress)
    with open(marker + '.tmp', 'w') as f:
        json.dump(dict(config=_marker_payload(), seconds=round(time.time() - t0, 1),
                       summaries=summaries), f, indent=1, sort_keys=True)
    os.replace(marker + '.tmp', marker)
    return files


def benchmark(sizes: Sequence[Tuple[int, int]] = ((256, 256), (480, 640)), num_scenes: int = 20,
              max_instances: int = DEFAULT_MAX_INSTANCES, seed: int = 0) -> List[dict]:
    """Single-process speed of the full per-image pipeline (scene sampling, render,
    visibility, annotations, JPEG encoding; no disk writes). ``sizes`` are (H, W)."""
    rows = []
    for H, W in sizes:
        render_scene_records('bench', 0, 1, seed, (H, W), None, max_instances)   # warm-up
        t0 = time.perf_counter()
        n = 0
        for i in range(num_scenes):
            for rec, anns, img in render_scene_records('bench', i, 1, seed, (H, W), None,
                                                       max_instances):
                _encode_jpeg(img)
                n += 1
        dt = time.perf_counter() - t0
        rows.append(dict(height=H, width=W, images=n, ms_per_image=1000 * dt / n,
                         images_per_second_per_core=n / dt))
    return rows

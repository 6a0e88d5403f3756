"""kplink-synth as an mmpose top-down dataset over the union keypoint space."""
from copy import deepcopy
from typing import Optional, Sequence

import numpy as np
import torch
from mmdet.structures.bbox import bbox_overlaps
from mmengine.fileio import load
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.datasets.datasets.utils import parse_pose_metainfo
from mmpose.registry import DATASETS

from .metainfo import build_union_metainfo
from .synth.categories import get_category
from .synth_prepare import AutoGenerateMixin, check_bbox

# Per-instance fields of the synth annotations that are carried into data samples.
_EXTRA_INSTANCE_FIELDS = ('instance_id', 'scene_id')


@DATASETS.register_module()
class KplinkSynthPoseDataset(AutoGenerateMixin, BaseCocoStyleDataset):
    """Top-down samples of kplink-synth (or any COCO file in the same schema).

    Each instance fills only its category's slice of the union keypoint space; the
    sample also carries the category's slice (`category_slice`: first slot, keypoint
    count) and skeleton (`category_skeleton`, slice-local indices), its canonical 3D
    keypoints (the identity features of CKLM), the exact keypoint states (0 outside
    the image, 1 occluded, 2 visible), the image's camera and, in multi-view splits,
    the other views of the same instance (`other_views`).

    Args:
        auto_generate (bool): generate the default splits when `ann_file` is one of
            them and missing. Defaults to True.
        keypoint_visibility (str): what `keypoints_visible` (the training weight)
            marks: ``'labelled'`` (default) every keypoint inside the image, occluded
            ones included (their true location is known); ``'visible'`` only the
            visible ones, as Occlusion-Net's keypoint model is trained. The exact
            states stay in `keypoint_states` either way.
        categories (Sequence[str], optional): use only these categories: the union
            keypoint space is built from them alone (e.g. ``['car']`` gives
            CarFusion's 12-keypoint layout) and instances of other kplink-synth
            categories are skipped. Default: all categories.
        bbox_file (str, optional): mmpose's option, test mode only: a COCO results
            json of detections (``image_id``, ``bbox`` xywh, ``score``,
            ``category_id``; mmdet's ``CocoMetric(outfile_prefix=...)`` writes one
            as ``*.bbox.json``). Unlike mmpose's person-only loader, every
            category is kept and each detection is matched (greedily by score, same
            category, IoU >= ``det_match_iou``) to a ground-truth instance whose
            keypoints and states it then carries (``det_matched`` True), so the
            keypoint and link metrics can score detected boxes; an unmatched
            detection keeps its box and category with no labelled keypoint
            (its links count as false positives).
        det_score_thr (float): detections below this score are dropped.
        det_match_iou (float): IoU for a detection to take over a ground truth.
        Others: see mmpose's BaseCocoStyleDataset.
    """

    def __init__(self, *args, keypoint_visibility: str = 'labelled',
                 categories: Optional[Sequence[str]] = None,
                 det_score_thr: float = 0.3, det_match_iou: float = 0.5, **kwargs):
        self.det_score_thr = float(det_score_thr)
        self.det_match_iou = float(det_match_iou)
        if keypoint_visibility not in ('labelled', 'visible'):
            raise ValueError("keypoint_visibility must be 'labelled' or 'visible', got "
                             f'{keypoint_visibility!r}')
        self.keypoint_visibility = keypoint_visibility
        self.categories = list(categories) if categories is not None else None
        if self.categories is not None:
            if kwargs.get('metainfo') is not None:
                raise ValueError('give either `categories` or `metainfo`, not both')
            for name in self.categories:
                get_category(name)  # unknown names fail here, naming the value
            kwargs['metainfo'] = build_union_metainfo(self.categories)
        super().__init__(*args, **kwargs)

    METAINFO: dict = build_union_metainfo()

    @classmethod
    def _load_metainfo(cls, metainfo: dict = None) -> dict:
        raw = deepcopy(cls.METAINFO) if metainfo is None else metainfo
        parsed = parse_pose_metainfo(raw)
        # parse_pose_metainfo keeps only mmpose's own keys; the union's are needed too.
        for key in ('classes', 'category_ids', 'category_slices'):
            if key in raw:
                parsed[key] = raw[key]
        return parsed

    def load_data_list(self):
        data_list = super().load_data_list()
        if not data_list and self.categories is not None:
            raise ValueError(f'{self.ann_file} has no labelled instance of the selected '
                             f'categories {self.categories}')
        self._link_other_views(data_list)
        return data_list

    def _load_detection_results(self):
        """Detections (``bbox_file``) matched to the ground truth; see the class doc."""
        gt_list, image_list = self._load_annotations()
        images = {img['img_id']: img for img in image_list}
        where = f'bbox_file {self.bbox_file}'
        try:
            dets = load(self.bbox_file)
        except Exception as err:  # json errors, missing file: name the file
            raise ValueError(f'{where}: cannot be read: {err}') from None
        if not isinstance(dets, list):
            raise ValueError(f'{where}: expected a list of detections (COCO results '
                             f'format), got {type(dets).__name__}')
        if not dets:
            raise ValueError(f'{where}: the detection list is empty; nothing to '
                             'estimate keypoints on')
        parsed = []
        for i, det in enumerate(dets):
            missing = [k for k in ('image_id', 'bbox', 'score', 'category_id')
                       if not isinstance(det, dict) or k not in det]
            if missing:
                raise ValueError(f'{where}: detection {i} has no {missing}')
            if det['image_id'] not in images:
                raise ValueError(f'{where}: detection {i} has image_id='
                                 f'{det["image_id"]!r}, which is not in {self.ann_file}')
            check_bbox(self.bbox_file, dict(det, id=f'(detection {i})'))
            spec = self._category_of(dict(det, id=f'(detection {i} of {self.bbox_file})'))
            if spec is None or float(det['score']) < self.det_score_thr:
                continue
            x, y, w, h = (float(v) for v in det['bbox'])
            parsed.append((float(det['score']), det['image_id'], spec,
                           np.array([x, y, x + w, y + h], np.float32)))
        gt_by_key = {}
        for info in gt_list:
            key = (info['img_id'], int(info['category_id']))
            gt_by_key.setdefault(key, []).append(info)
        taken = set()
        data_list = []
        for score, img_id, spec, box in sorted(parsed, key=lambda d: -d[0]):
            best = None
            cands = [info for info in gt_by_key.get((img_id, spec.id), [])
                     if info['id'] not in taken]
            if cands:
                gt_boxes = np.concatenate([c['bbox'] for c in cands]).astype(np.float32)
                ious = bbox_overlaps(torch.from_numpy(box[None]),
                                     torch.from_numpy(gt_boxes))[0]
                if float(ious.max()) >= self.det_match_iou:
                    best = cands[int(ious.argmax())]
            if best is not None:
                taken.add(best['id'])
                info = deepcopy(best)
                info['gt_bbox'] = info['bbox']
            else:
                info = self._unmatched_detection(images[img_id], spec)
            info.update(bbox=box.reshape(1, 4), bbox_score=np.array([score], np.float32),
                        det_matched=best is not None, id=len(data_list))
            data_list.append(info)
        if not data_list:
            raise ValueError(f'{where}: no detection of the dataset\'s categories at '
                             f'score >= det_score_thr={self.det_score_thr}')
        return data_list

    def _unmatched_detection(self, img: dict, spec) -> dict:
        num_union = self.metainfo['num_keypoints']
        start, count = self.metainfo['category_slices'][spec.name]
        canonical = np.zeros((1, num_union, 3), dtype=np.float32)
        canonical[0, start:start + count] = spec.canonical_keypoints()
        return dict(
            img_id=img['img_id'], img_path=img['img_path'], num_keypoints=0,
            keypoints=np.zeros((1, num_union, 2), np.float32),
            keypoints_visible=np.zeros((1, num_union), np.float32),
            keypoint_states=np.zeros((1, num_union), np.int64),
            keypoints_canonical=canonical, category_id=np.array(spec.id),
            category_slice=(start, count),
            category_skeleton=[tuple(link) for link in spec.skeleton],
            area=np.array(0.0, np.float32), iscrowd=0, camera=img.get('camera'),
            view_id=img.get('view_id', 0), raw_ann_info={})

    @staticmethod
    def _link_other_views(data_list):
        """Give every instance the other calibrated views of the same object.

        Multi-view splits share `scene_id`/`instance_id` across views; each sample
        gets `other_views`: a list of {view_id, img_id, camera, keypoints (N_c, 2),
        keypoint_states (N_c,)} in its category's own keypoint order (empty for
        single-view data).
        """
        groups = {}
        for info in data_list:
            if 'scene_id' in info and 'instance_id' in info:
                groups.setdefault((info['scene_id'], info['instance_id']), []).append(info)
        for info in data_list:
            start, count = info['category_slice']
            info['other_views'] = [
                dict(view_id=o['view_id'], img_id=o['img_id'], camera=o['camera'],
                     keypoints=o['keypoints'][0, start:start + count].copy(),
                     keypoint_states=o['keypoint_states'][0, start:start + count].copy())
                for o in groups.get((info.get('scene_id'), info.get('instance_id')), [])
                if o['id'] != info['id']
            ]

    def _category_of(self, ann: dict):
        cat_id = ann.get('category_id')
        try:
            spec = get_category(int(cat_id))
        except (KeyError, ValueError, TypeError) as err:
            raise ValueError(
                f'{self.ann_file}: annotation id={ann.get("id")} has unknown '
                f'category_id={cat_id!r}: {err}') from None
        if self.categories is not None and spec.name not in self.categories:
            return None  # a category the user left out on purpose
        if spec.name not in self.metainfo['category_slices']:
            raise ValueError(
                f'{self.ann_file}: annotation id={ann.get("id")} is a '
                f"'{spec.name}', which is not in this dataset's categories "
                f'{list(self.metainfo["category_slices"])}')
        return spec

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        ann = raw_data_info['raw_ann_info']
        img = raw_data_info['raw_img_info']
        spec = self._category_of(ann)
        if spec is None:
            return None
        start, count = self.metainfo['category_slices'][spec.name]
        kpts = np.asarray(ann.get('keypoints', ()), dtype=np.float32)
        if kpts.size != 3 * count:
            raise ValueError(
                f'{self.ann_file}: annotation id={ann.get("id")} ({spec.name}) has '
                f'{kpts.size} values in "keypoints"; expected {3 * count} '
                f'({count} keypoints x 3)')
        check_bbox(self.ann_file, ann)
        bbox = ann['bbox']
        if ann.get('iscrowd', 0) or ann.get('num_keypoints', 1) == 0:
            return None  # ignore regions and instances without any labelled keypoint

        num_union = self.metainfo['num_keypoints']
        kpts = kpts.reshape(count, 3)
        keypoints = np.zeros((1, num_union, 2), dtype=np.float32)
        visible = np.zeros((1, num_union), dtype=np.float32)
        keypoints[0, start:start + count] = kpts[:, :2]
        states = np.zeros((1, num_union), dtype=np.int64)
        states[0, start:start + count] = ann.get('keypoint_states', kpts[:, 2])
        if self.keypoint_visibility == 'visible':
            visible[0] = states[0] == 2
        else:
            visible[0, start:start + count] = np.minimum(1, kpts[:, 2])
        canonical = np.zeros((1, num_union, 3), dtype=np.float32)
        canonical[0, start:start + count] = spec.canonical_keypoints()

        x, y, w, h = bbox
        img_w, img_h = img['width'], img['height']
        x1, y1 = np.clip(x, 0, img_w - 1), np.clip(y, 0, img_h - 1)
        x2, y2 = np.clip(x + w, 0, img_w - 1), np.clip(y + h, 0, img_h - 1)
        data_info = dict(
            img_id=ann['image_id'],
            img_path=img['img_path'],
            bbox=np.array([x1, y1, x2, y2], dtype=np.float32).reshape(1, 4),
            bbox_score=np.ones(1, dtype=np.float32),
            num_keypoints=int((kpts[:, 2] > 0).sum()),
            keypoints=keypoints,
            keypoints_visible=visible,
            keypoint_states=states,
            keypoints_canonical=canonical,
            category_id=np.array(spec.id),
            category_slice=(start, count),
            category_skeleton=[tuple(link) for link in spec.skeleton],
            area=np.array(ann.get('area', w * h), dtype=np.float32),
            iscrowd=0,
            id=ann['id'],
            camera=img.get('camera'),
            view_id=img.get('view_id', 0),
            raw_ann_info=deepcopy(ann),
        )
        for key in _EXTRA_INSTANCE_FIELDS:
            if key in ann:
                data_info[key] = ann[key]
        return data_info

"""Draw the ground truth of a kplink-synth (COCO keypoint) image.

Boxes (visible-pixel box solid, amodal box thin), the skeleton links, keypoints
coloured by state -- visible: green filled dot, occluded: orange ring, outside the
image: blue cross (drawn on a padded canvas, so truncated keypoints show) -- and
a "category #instance" label. Images are RGB ``uint8``; cv2 is imported lazily.
"""
import colorsys
import os.path as osp
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

__all__ = ['STATE_COLORS', 'category_color', 'draw_gt', 'load_rgb', 'draw_coco_image',
           'side_by_side']

#: RGB colours of keypoint states 0 (outside), 1 (occluded), 2 (visible)
STATE_COLORS = {0: (40, 120, 255), 1: (255, 140, 0), 2: (40, 230, 40)}
CROWD_COLOR = (160, 160, 160)
PAD_COLOR = (60, 60, 60)


def category_color(category_id: int) -> tuple:
    r, g, b = colorsys.hsv_to_rgb(((category_id - 1) * 0.1 + 0.03) % 1.0, 0.75, 1.0)
    return int(255 * r), int(255 * g), int(255 * b)


def _states(ann: dict) -> np.ndarray:
    if 'keypoint_states' in ann:
        return np.asarray(ann['keypoint_states'], dtype=int)
    return np.asarray(ann['keypoints'], dtype=float).reshape(-1, 3)[:, 2].astype(int)


def _points(ann: dict) -> np.ndarray:
    if 'keypoints_proj' in ann:
        return np.asarray(ann['keypoints_proj'], dtype=float).reshape(-1, 2)
    return np.asarray(ann['keypoints'], dtype=float).reshape(-1, 3)[:, :2]


def draw_gt(image: np.ndarray, annotations: Sequence[dict],
            categories: Union[Dict[int, dict], Sequence[dict]], scale: float = 2.0,
            pad: float = 0.15, show_amodal: bool = True, show_links: bool = True,
            show_labels: bool = True, show_legend: bool = True,
            title: Optional[str] = None) -> np.ndarray:
    """Return an RGB uint8 drawing of ``annotations`` over ``image``.

    Args:
        image: ``(H,W,3)`` RGB uint8.
        annotations: COCO annotation dicts (the kplink-synth extras
            ``keypoint_states``/``keypoints_proj`` are used when present).
        categories: COCO category dicts (``id``, ``name``, 1-based ``skeleton``),
            as a list or ``{id: dict}``.
        scale: upscaling factor of the drawing.
        pad: margin around the image, as a fraction of its size, where keypoints
            outside the image are drawn.
    """
    import cv2
    if not isinstance(categories, dict):
        categories = {c['id']: c for c in categories}
    H, W = image.shape[:2]
    px, py = int(round(pad * W)), int(round(pad * H))
    canvas = np.empty((H + 2 * py, W + 2 * px, 3), dtype=np.uint8)
    canvas[:] = PAD_COLOR
    canvas[py:py + H, px:px + W] = image
    canvas = cv2.resize(canvas, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    canvas = np.ascontiguousarray(canvas)
    ch, cw = canvas.shape[:2]
    th = max(1, int(round(scale)))

    def P(x, y):
        return int(round((x + px) * scale)), int(round((y + py) * scale))

    # image border
    cv2.rectangle(canvas, P(0, 0), P(W, H), (255, 255, 255), 1)
    for ann in annotations:
        cat = categories.get(ann['category_id'], {})
        color = CROWD_COLOR if ann.get('iscrowd', 0) else category_color(ann['category_id'])
        x, y, w, h = ann['bbox']
        if show_amodal and 'amodal_bbox' in ann:
            ax, ay, aw, ah = ann['amodal_bbox']
            cv2.rectangle(canvas, P(ax, ay), P(ax + aw, ay + ah), color, 1, cv2.LINE_AA)
        cv2.rectangle(canvas, P(x, y), P(x + w, y + h), color, th, cv2.LINE_AA)
        pts = _points(ann)
        st = _states(ann)
        if show_links:
            for a, b in cat.get('skeleton', []):
                a, b = a - 1, b - 1
                both_vis = st[a] == 2 and st[b] == 2
                cv2.line(canvas, P(*pts[a]), P(*pts[b]), color, th if both_vis else 1,
                         cv2.LINE_AA)
        r = max(2, int(round(2.2 * scale)))
        for (kx, ky), s in zip(pts, st):
            c = P(kx, ky)
            if not (-r <= c[0] < cw + r and -r <= c[1] < ch + r):
                continue
            col = STATE_COLORS.get(int(s), (255, 255, 255))
            if s == 2:
                cv2.circle(canvas, c, r, col, -1, cv2.LINE_AA)
                cv2.circle(canvas, c, r, (0, 0, 0), 1, cv2.LINE_AA)
            elif s == 1:
                cv2.circle(canvas, c, r, col, max(1, th), cv2.LINE_AA)
            else:
                cv2.drawMarker(canvas, c, col, cv2.MARKER_TILTED_CROSS, 2 * r + 2, max(1, th))
        if show_labels:
            label = f"{cat.get('name', ann['category_id'])} #{ann.get('instance_id', '?')}"
            if ann.get('iscrowd', 0):
                label += ' (ignore)'
            org = P(x, y)
            fs = 0.35 * scale
            (tw, tht), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)
            org = (max(0, min(org[0], cw - tw)), max(tht + 2, org[1] - 3))
            cv2.rectangle(canvas, (org[0], org[1] - tht - 2), (org[0] + tw, org[1] + 2),
                          (0, 0, 0), -1)
            cv2.putText(canvas, label, org, cv2.FONT_HERSHEY_SIMPLEX, fs, color, 1, cv2.LINE_AA)
    fs = 0.3 * scale
    if show_legend:
        y0 = ch - 4
        x0 = 4
        for s, name in ((2, 'visible'), (1, 'occluded'), (0, 'outside')):
            cv2.putText(canvas, name, (x0, y0), cv2.FONT_HERSHEY_SIMPLEX, fs, STATE_COLORS[s], 1,
                        cv2.LINE_AA)
            x0 += cv2.getTextSize(name, cv2.FONT_HERSHEY_SIMPLEX, fs, 1)[0][0] + 8
    if title:
        cv2.putText(canvas, title, (4, int(12 * scale / 2) + 6), cv2.FONT_HERSHEY_SIMPLEX, fs,
                    (255, 255, 255), 1, cv2.LINE_AA)
    return canvas


def load_rgb(path: str) -> np.ndarray:
    import cv2
    img = cv2.imread(path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(f'cannot read image {path}')
    return np.ascontiguousarray(img[..., ::-1])


def draw_coco_image(coco: dict, image_id: int, data_root: str, **kwargs) -> np.ndarray:
    """Load image ``image_id`` of a loaded annotation dict and draw its GT."""
    img_info = next(im for im in coco['images'] if im['id'] == image_id)
    anns = [a for a in coco['annotations'] if a['image_id'] == image_id]
    img = load_rgb(osp.join(data_root, img_info['file_name']))
    kwargs.setdefault('title', osp.basename(img_info['file_name']))
    return draw_gt(img, anns, coco['categories'], **kwargs)


def side_by_side(images: List[np.ndarray], gap: int = 4) -> np.ndarray:
    """Concatenate RGB images horizontally (padding heights)."""
    h = max(i.shape[0] for i in images)
    cols = []
    for k, im in enumerate(images):
        if im.shape[0] < h:
            im = np.pad(im, ((0, h - im.shape[0]), (0, 0), (0, 0)))
        cols.append(im)
        if k < len(images) - 1:
            cols.append(np.full((h, gap, 3), 255, np.uint8))
    return np.concatenate(cols, 1)

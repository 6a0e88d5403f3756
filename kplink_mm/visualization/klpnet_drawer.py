"""Draw KLPNet's predictions on an image: boxes, named keypoints and the predicted
links (line width grows with the link probability). Images are RGB ``uint8``."""
from typing import Dict, Sequence

import numpy as np

from .gt_drawer import category_color

__all__ = ['draw_targets']


def draw_targets(image: np.ndarray, targets: Sequence[Dict], scale: float = 2.0,
                 link_thr: float = 0.5) -> np.ndarray:
    """``targets`` as returned by ``kplink_mm.apis.inference_klpnet``; a target's
    own ``link_thr`` (its category's operating point) overrides ``link_thr``."""
    import cv2
    from ..datasets.synth.categories import get_category
    canvas = cv2.resize(np.ascontiguousarray(image), None, fx=scale, fy=scale,
                        interpolation=cv2.INTER_LINEAR)

    def P(x, y):
        return int(round(x * scale)), int(round(y * scale))

    for t in targets:
        spec = get_category(t['category'])
        color = category_color(spec.id)
        x1, y1, x2, y2 = t['bbox']
        cv2.rectangle(canvas, P(x1, y1), P(x2, y2), color, 1, cv2.LINE_AA)
        kpts, found = t['keypoints'], t['keypoint_scores'] > 0
        thr = t.get('link_thr', link_thr)
        for (a, b), p in zip(t['link_pairs'], t['link_scores']):
            if a >= 0 and b >= 0 and p >= thr and found[a] and found[b]:
                cv2.line(canvas, P(*kpts[a]), P(*kpts[b]), color,
                         1 + int(round(2 * (p - thr) / (1 - thr + 1e-9))),
                         cv2.LINE_AA)
        for k in np.nonzero(found)[0]:
            cv2.circle(canvas, P(*kpts[k]), 3, (255, 255, 255), -1, cv2.LINE_AA)
            cv2.circle(canvas, P(*kpts[k]), 3, color, 1, cv2.LINE_AA)
        label = f"{t['category']}{' LIS' if t.get('lis') else ''}"
        cv2.putText(canvas, label, P(x1, max(y1 - 2, 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.4,
                    color, 1, cv2.LINE_AA)
    return canvas

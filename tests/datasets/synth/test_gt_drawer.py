import numpy as np

from kplink_mm.datasets.synth.generator import categories_json, render_scene_records
from kplink_mm.visualization.gt_drawer import STATE_COLORS, draw_gt, side_by_side


def test_draw_gt_marks_states():
    (rec, anns, img), = render_scene_records('vis', 0, 1, seed=4, image_size=(96, 128))
    out = draw_gt(img, anns, categories_json(), scale=2.0, pad=0.1)
    assert out.dtype == np.uint8
    assert out.shape == (2 * (96 + 2 * 10), 2 * (128 + 2 * 13), 3)
    drawn = {s for a in anns for s in a['keypoint_states']}
    for s in drawn:   # every state present in the GT shows up in its colour
        if s == 0:
            continue  # outside keypoints may lie beyond the padding
        assert (np.abs(out.astype(int) - STATE_COLORS[s]).sum(-1) < 30).any(), s
    both = side_by_side([out, out[:100]])
    assert both.shape[0] == out.shape[0] and both.shape[1] == 2 * out.shape[1] + 4

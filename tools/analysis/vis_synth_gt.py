"""Write PNGs of the ground truth of N images of a kplink-synth split.

    python tools/analysis/vis_synth_gt.py --data-root data/kplink_synth --split val \
        --num 8 --out work_dirs/synth_vis [--group-views] [--scale 2] [--seed 0]

With ``--group-views`` every PNG shows all views of one scene side by side.
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))

import numpy as np  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--data-root', default='data/kplink_synth')
    p.add_argument('--split', default='val')
    p.add_argument('--ann-file', default=None,
                   help='defaults to <data-root>/annotations/<split>.json')
    p.add_argument('--num', type=int, default=8, help='number of images (or scenes)')
    p.add_argument('--out', default='work_dirs/synth_vis')
    p.add_argument('--scale', type=float, default=2.0)
    p.add_argument('--seed', type=int, default=None, help='pick random images (default: first N)')
    p.add_argument('--group-views', action='store_true',
                   help='one PNG per scene, views side by side')
    p.add_argument('--no-amodal', action='store_true')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import cv2

    from kplink_mm.visualization.gt_drawer import draw_coco_image, side_by_side
    ann_file = args.ann_file or osp.join(args.data_root, 'annotations', f'{args.split}.json')
    with open(ann_file) as f:
        coco = json.load(f)
    os.makedirs(args.out, exist_ok=True)
    groups = {}
    for im in coco['images']:
        key = im['scene_id'] if args.group_views else im['id']
        groups.setdefault(key, []).append(im['id'])
    keys = sorted(groups)
    if args.seed is not None:
        keys = list(np.random.default_rng(args.seed).permutation(keys))
    written = []
    for key in keys[:args.num]:
        panels = [draw_coco_image(coco, iid, args.data_root, scale=args.scale,
                                  show_amodal=not args.no_amodal) for iid in sorted(groups[key])]
        canvas = side_by_side(panels) if len(panels) > 1 else panels[0]
        name = f'scene_{key:06d}.png' if args.group_views else f'image_{key:06d}.png'
        path = osp.join(args.out, f'{args.split}_{name}')
        cv2.imwrite(path, canvas[..., ::-1])
        written.append(path)
    for path in written:
        print(path)
    return written


if __name__ == '__main__':
    main()

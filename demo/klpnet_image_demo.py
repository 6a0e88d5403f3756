"""KLPNet on whole images: boxes (ground truth or a DPAD detector) -> keypoints ->
links (+ LIS), drawn to PNGs and printed.

    # boxes from a kplink-synth annotation file (first N images)
    python demo/klpnet_image_demo.py CONFIG CKPT --ann data/kplink_synth/annotations/val.json \
        --num-images 4 --out-dir work_dirs/klpnet_demo
    # boxes from a detector
    python demo/klpnet_image_demo.py CONFIG CKPT --img IMG.jpg \
        --det-config configs/dpad/atss_dpad_r18_cpu_kplink-synth-256.py --det-checkpoint DET.pth
"""
import argparse
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


def output_path(out_dir: str, image_path: str, source: str, used: dict) -> str:
    """Where one image's drawing goes: ``<stem>_<source>_klpnet.png`` (source: ``gtboxes``
    or ``detected``), then ``_2``, ``_3``... when a name comes again (an image given both
    ways or twice, or two folders' images with one file name), so no drawing is lost."""
    name = f'{osp.splitext(osp.basename(image_path))[0]}_{source}_klpnet'
    used[name] = used.get(name, 0) + 1
    suffix = '' if used[name] == 1 else f'_{used[name]}'
    return osp.join(out_dir, f'{name}{suffix}.png')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--img', nargs='*', default=[], help='image files (need a detector)')
    p.add_argument('--ann', help='COCO annotation file: use its images and GT boxes')
    p.add_argument('--num-images', type=int, default=4)
    p.add_argument('--det-config')
    p.add_argument('--det-checkpoint')
    p.add_argument('--det-score-thr', type=float, default=0.3)
    p.add_argument('--no-lis', action='store_true')
    p.add_argument('--out-dir', default=osp.join(ROOT, 'work_dirs', 'klpnet_demo'))
    p.add_argument('--device', default='cpu')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import cv2
    import numpy as np
    from mmengine.registry import init_default_scope
    from mmpose.apis import init_model

    import kplink_mm  # noqa: F401
    from kplink_mm.apis import inference_klpnet
    from kplink_mm.visualization import draw_targets

    init_default_scope('mmpose')
    model = init_model(args.config, args.checkpoint, device=args.device)
    detector = None
    if args.det_config:
        from mmdet.apis import init_detector
        detector = init_detector(args.det_config, args.det_checkpoint, device=args.device)
        init_default_scope('mmpose')

    jobs = []  # (image path, boxes or None, categories or None, source)
    if args.ann:
        with open(args.ann) as f:
            coco = json.load(f)
        root = osp.dirname(osp.dirname(osp.abspath(args.ann)))
        for img in coco['images'][:args.num_images]:
            anns = [a for a in coco['annotations'] if a['image_id'] == img['id']
                    and not a.get('iscrowd') and a.get('num_keypoints', 1)]
            boxes = np.array([[a['bbox'][0], a['bbox'][1], a['bbox'][0] + a['bbox'][2],
                               a['bbox'][1] + a['bbox'][3]] for a in anns], np.float32)
            jobs.append((osp.join(root, img['file_name']), boxes,
                         [a['category_id'] for a in anns], 'gtboxes'))
    for path in args.img:
        if detector is None:
            raise SystemExit('--img needs --det-config/--det-checkpoint (or use --ann)')
        jobs.append((path, None, None, 'detected'))
    if not jobs:
        raise SystemExit('nothing to do: give --ann or --img')

    os.makedirs(args.out_dir, exist_ok=True)
    used = {}
    for path, boxes, cats, source in jobs:
        image = cv2.imread(path)
        if image is None:
            raise SystemExit(f'cannot read image {path}')
        targets = inference_klpnet(model, image, bboxes=boxes, categories=cats,
                                   detector=detector, det_score_thr=args.det_score_thr,
                                   lis=not args.no_lis)
        out = output_path(args.out_dir, path, source, used)
        cv2.imwrite(out, cv2.cvtColor(draw_targets(image[..., ::-1], targets),
                                      cv2.COLOR_RGB2BGR))
        print(f'{path}: {len(targets)} targets -> {out}')
        for t in targets:
            found = int((t['keypoint_scores'] > 0).sum())
            print(f"  {t['category']:<12} {found}/{len(t['keypoint_names'])} keypoints, "
                  f"{len(t['links'])} links{' (LIS)' if t['lis'] else ''}: "
                  + ', '.join(f'{a}-{b} {p:.2f}' for a, b, p in t['links'][:6]))


if __name__ == '__main__':
    main()

"""Generate kplink-synth splits (procedural Pascal3D+-like keypoint benchmark).

Examples::

    # one split
    python tools/dataset_converters/generate_synth.py --out data/kplink_synth \
        --split train --num-scenes 100 --views 1 --seed 0 --workers 2
    # multi-view split restricted to two categories, 3 cameras per scene
    python tools/dataset_converters/generate_synth.py --out data/kplink_synth \
        --split mv_small --num-scenes 50 --views 3 --categories car chair
    # the default benchmark (what the configs use), only if missing
    python tools/dataset_converters/generate_synth.py --out data/kplink_synth --default
    # speed table (images/second/core at 256x256 and 640x480)
    python tools/dataset_converters/generate_synth.py --benchmark
"""
import argparse
import json
import os.path as osp
import sys
import time

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))


def parse_args(argv=None):
    p = argparse.ArgumentParser(
        description='Generate kplink-synth splits.',
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    p.add_argument('--out', default='data/kplink_synth',
                   help='dataset root (relative paths are resolved against the CWD)')
    p.add_argument('--split', default='train', help='split name (annotations/<split>.json)')
    p.add_argument('--num-scenes', type=int, default=100)
    p.add_argument('--views', type=int, default=1, help='cameras per scene')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--workers', type=int, default=2, help='worker processes')
    p.add_argument('--image-size', type=int, nargs=2, default=(256, 256),
                   metavar=('HEIGHT', 'WIDTH'))
    p.add_argument('--categories', nargs='+', default=None,
                   help='category names (default: all)')
    p.add_argument('--max-instances', type=int, default=3)
    p.add_argument('--default', action='store_true',
                   help='generate the default splits (DEFAULT_SPLITS) if missing')
    p.add_argument('--force', action='store_true', help='with --default: regenerate anyway')
    p.add_argument('--benchmark', action='store_true',
                   help='print images/second/core at 256x256 and 640x480 and exit')
    p.add_argument('--benchmark-scenes', type=int, default=20)
    p.add_argument('--quiet', action='store_true', help='no progress bar')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kplink_mm.datasets.synth import generator as gen
    from kplink_mm.datasets.synth.categories import get_category

    if args.benchmark:
        rows = gen.benchmark(((256, 256), (480, 640)), num_scenes=args.benchmark_scenes,
                             max_instances=args.max_instances, seed=args.seed)
        print(f'{"size (WxH)":>12} {"images":>7} {"ms/image":>9} {"images/s/core":>14}')
        for r in rows:
            print(f'{r["width"]:>6}x{r["height"]:<5} {r["images"]:>7} '
                  f'{r["ms_per_image"]:>9.1f} {r["images_per_second_per_core"]:>14.1f}')
        return rows
    if args.categories:
        for c in args.categories:   # fail early with a clear message
            try:
                get_category(c)
            except KeyError as e:
                raise SystemExit(f'error: {e.args[0]}')
    out = osp.abspath(args.out)
    t0 = time.time()
    if args.default:
        files = gen.ensure_default_synth(out, workers=args.workers, progress=not args.quiet,
                                         force=args.force)
        marker = osp.join(out, gen.COMPLETE_MARKER)
        with open(marker) as f:
            info = json.load(f)
        for split, s in info.get('summaries', {}).items():
            print(f'{split}: {s["num_images"]} images, {s["num_annotations"]} instances, '
                  f'{s["seconds"]:.1f}s')
        print(f'default kplink-synth ready under {out} ({time.time() - t0:.1f}s this call; '
              f'generation took {info.get("seconds", 0):.1f}s)')
        return files
    summary = gen.generate_split(out, args.split, args.num_scenes, args.views, seed=args.seed,
                                 image_size=tuple(args.image_size), categories=args.categories,
                                 max_instances=args.max_instances, workers=args.workers,
                                 progress=not args.quiet)
    print(json.dumps(summary, indent=1, sort_keys=True))
    return summary


if __name__ == '__main__':
    main()

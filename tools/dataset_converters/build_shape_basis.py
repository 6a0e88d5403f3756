"""Build PCA shape bases of the kplink-synth categories (Occlusion-Net 3D-KGNN).

For each category, ``--num-samples`` random instances of its parametric model are
drawn (one random stream per category from ``--seed`` and the category id, so a
category's basis does not depend on which others are built), their 3D keypoints
are put in the category's canonical frame and a PCA basis is fitted
(``kplink_mm.geometry.shape_basis``). All bases go into one ``.npz``.

Canonical frame (as ``CategorySpec.canonical_keypoints()``): every instance is
centred on the centre of its keypoints' bounding box and divided by the largest
bounding-box side of the category's *mean* shape (one constant per category,
stored as ``<category>/scale`` in metres), so coordinates are ~[-0.5, 0.5] and
size variation is kept. The models are built in the object frame (x front, y
left, z up), so no rotation alignment is needed.

Examples::

    python tools/dataset_converters/build_shape_basis.py            # all categories
    python tools/dataset_converters/build_shape_basis.py --categories car bus \
        --num-samples 1000 --num-components 8 --out /tmp/shape_basis.npz
"""
import argparse
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..', '..')))


def parse_args(argv=None):
    from kplink_mm.utils import data_root
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--categories', nargs='+', default=None,
                   help='category names (default: all)')
    p.add_argument('--num-samples', type=int, default=500, help='random shapes per category')
    p.add_argument('--num-components', type=int, default=5,
                   help='components kept (capped at what the samples support)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--out', default=data_root('kplink_synth', 'shape_basis.npz'),
                   help='output .npz (default: <data root>/kplink_synth/shape_basis.npz; '
                   'relative paths are resolved against the CWD)')
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    from kplink_mm.datasets.synth.shape_bases import build_shape_bases
    from kplink_mm.geometry.shape_basis import save_shape_bases

    if args.num_samples < 2:
        raise SystemExit('--num-samples must be at least 2')
    if args.num_components < 1:
        raise SystemExit('--num-components must be at least 1')
    try:
        bases, rows = build_shape_bases(args.categories, args.num_samples,
                                        args.num_components, args.seed)
    except (KeyError, ValueError) as e:
        raise SystemExit(e.args[0])

    out = osp.abspath(args.out)
    save_shape_bases(out, bases)

    print(f'{"category":<12} {"keypoints":>9} {"components":>10} {"explained":>9}  '
          'per component')
    for name, n, k, evr in rows:
        capped = '' if k == args.num_components else f'  (capped from {args.num_components})'
        print(f'{name:<12} {n:>9d} {k:>10d} {evr.sum():>9.4f}  '
              + ' '.join(f'{v:.4f}' for v in evr) + capped)
    print(f'wrote {out}')
    return bases


if __name__ == '__main__':
    main()

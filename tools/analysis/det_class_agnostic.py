"""Is a detector short on finding objects or on naming their category?

    python tools/analysis/det_class_agnostic.py ANN_FILE RESULTS.bbox.json

RESULTS is what mmdet's ``CocoMetric(outfile_prefix=...)`` writes (``tools/test.py
CONFIG CKPT --cfg-options test_evaluator.outfile_prefix=PREFIX``). pycocotools'
COCOeval is run twice, with categories (the usual AP) and class-agnostic
(``useCats=0``: a box counts whatever category it names); if the two are close, the
misses are localisation/recall, not classification. Per-category AP50 follows.
"""
import argparse
import contextlib
import io
import json

import numpy as np


def evaluate(ann_file: str, results: str) -> dict:
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO(ann_file)
    try:
        with open(results) as f:
            dets = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f'cannot read results {results}: {e}') from None
    if not isinstance(dets, list) or not dets:
        raise SystemExit(f'{results} holds no detections: nothing to evaluate')
    unknown = sorted({d.get('category_id') for d in dets} - set(gt.getCatIds()))
    if unknown:
        raise SystemExit(f'{results}: category_id {unknown} not in {ann_file}')
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
    out = dict(per_category={})
    for use_cats, key in ((1, 'with_categories'), (0, 'class_agnostic')):
        ev = COCOeval(gt, dt, 'bbox')
        ev.params.useCats = use_cats
        with contextlib.redirect_stdout(io.StringIO()):
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
        out[key] = dict(AP=ev.stats[0], AP50=ev.stats[1], AP75=ev.stats[2], AR100=ev.stats[8])
        if use_cats:
            prec = ev.eval['precision'][0, :, :, 0, -1]   # IoU 0.5, area all, maxDets 100
            for k, cid in enumerate(ev.params.catIds):
                p = prec[:, k]
                out['per_category'][gt.cats[cid]['name']] = \
                    float(p[p > -1].mean()) if (p > -1).any() else float('nan')
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_file')
    parser.add_argument('results')
    args = parser.parse_args(argv)
    res = evaluate(args.ann_file, args.results)
    print(f'{"evaluation":<16} {"AP":>6} {"AP50":>6} {"AP75":>6} {"AR100":>6}')
    for key in ('with_categories', 'class_agnostic'):
        r = res[key]
        print(f'{key:<16} ' + ' '.join(f'{100 * r[k]:>6.1f}'
                                       for k in ('AP', 'AP50', 'AP75', 'AR100')))
    print('\nAP50 per category')
    for name, ap in res['per_category'].items():
        print(f'  {name:<14} {100 * ap:>5.1f}' if not np.isnan(ap) else f'  {name:<14}   -')


if __name__ == '__main__':
    main()

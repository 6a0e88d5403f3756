"""Is a detector short on finding objects or on naming their category?

    python tools/analysis/det_class_agnostic.py ANN_FILE RESULTS.bbox.json

RESULTS is what mmdet's ``CocoMetric(outfile_prefix=...)`` writes (``tools/test.py
CONFIG CKPT --cfg-options test_evaluator.outfile_prefix=PREFIX``). pycocotools'
COCOeval is run twice, with categories (the usual AP) and class-agnostic
(``useCats=0``: a box counts whatever category it names); if the two are close, the
misses are localisation/recall, not classification. Per-category AP50 follows.

The error breakdown then says where the AP goes: how many objects have a
right-category box with IoU >= 0.5 at any score and at a score >= --found-score,
and what the detections scoring >= --fp-score are, matched greedily by score per
image as COCO does: true positives, duplicates (a right-category object already
taken), wrong category (IoU >= 0.5 with an object of another category), poorly
placed (best IoU 0.1-0.5) and background. ``--first-n N`` scores only the first N
images of ANN_FILE (by image id), e.g. a training subset.
"""
import argparse
import contextlib
import io
import json

import numpy as np


def _load(ann_file: str, results: str, first_n=None):
    from pycocotools.coco import COCO
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
    img_ids = sorted(gt.getImgIds())
    if first_n is not None:
        if first_n < 1:
            raise SystemExit(f'--first-n must be >= 1, not {first_n}')
        img_ids = img_ids[:first_n]
        keep = set(img_ids)
        dets = [d for d in dets if d.get('image_id') in keep]
        if not dets:
            raise SystemExit(f'{results} holds no detections on the first {first_n} '
                             f'images of {ann_file}')
    return gt, dets, img_ids


def evaluate(ann_file: str, results: str, first_n=None) -> dict:
    return _evaluate(*_load(ann_file, results, first_n))


def _evaluate(gt, dets, img_ids) -> dict:
    from pycocotools.cocoeval import COCOeval
    with contextlib.redirect_stdout(io.StringIO()):
        dt = gt.loadRes(dets)
    out = dict(per_category={}, num_images=len(img_ids))
    for use_cats, key in ((1, 'with_categories'), (0, 'class_agnostic')):
        ev = COCOeval(gt, dt, 'bbox')
        ev.params.useCats = use_cats
        ev.params.imgIds = img_ids
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


def error_breakdown(ann_file: str, results: str, first_n=None, found_score=0.3,
                    fp_score=0.1, iou_thr=0.5, poor_iou=0.1) -> dict:
    """Objects found (any score / score >= found_score) and the kinds of the
    detections scoring >= fp_score; crowd objects are left out, as COCO does."""
    return _error_breakdown(*_load(ann_file, results, first_n), found_score, fp_score,
                            iou_thr, poor_iou)


def _error_breakdown(gt, dets, img_ids, found_score=0.3, fp_score=0.1, iou_thr=0.5,
                     poor_iou=0.1) -> dict:
    from pycocotools import mask as mask_utils
    by_image = {}
    for d in dets:
        by_image.setdefault(d['image_id'], []).append(d)
    counts = dict(objects=0, found_any_score=0, found_at_score=0, true_positive=0,
                  duplicate=0, wrong_category=0, poorly_placed=0, background=0)
    for img_id in img_ids:
        anns = [a for a in gt.loadAnns(gt.getAnnIds(imgIds=img_id)) if not a.get('iscrowd')]
        counts['objects'] += len(anns)
        ds = sorted(by_image.get(img_id, []), key=lambda d: -d['score'])
        if not anns:
            counts['background'] += sum(d['score'] >= fp_score for d in ds)
            continue
        if not ds:
            continue
        ious = mask_utils.iou([d['bbox'] for d in ds], [a['bbox'] for a in anns],
                              [0] * len(anns))                       # (D, G)
        same = np.array([[d['category_id'] == a['category_id'] for a in anns] for d in ds])
        hit = (ious >= iou_thr) & same
        counts['found_any_score'] += int(hit.any(0).sum())
        scores = np.array([d['score'] for d in ds])
        counts['found_at_score'] += int(hit[scores >= found_score].any(0).sum())
        taken = np.zeros(len(anns), bool)
        for k in np.flatnonzero(scores >= fp_score):
            free = hit[k] & ~taken
            if free.any():
                taken[np.argmax(np.where(free, ious[k], -1))] = True
                kind = 'true_positive'
            elif hit[k].any():
                kind = 'duplicate'
            elif ((ious[k] >= iou_thr) & ~same[k]).any():
                kind = 'wrong_category'
            elif ious[k].max() >= poor_iou:
                kind = 'poorly_placed'
            else:
                kind = 'background'
            counts[kind] += 1
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('ann_file')
    parser.add_argument('results')
    parser.add_argument('--first-n', type=int, help='score only the first N images')
    parser.add_argument('--found-score', type=float, default=0.3)
    parser.add_argument('--fp-score', type=float, default=0.1)
    args = parser.parse_args(argv)
    loaded = _load(args.ann_file, args.results, args.first_n)  # read once for both
    res = _evaluate(*loaded)
    print(f'{res["num_images"]} images')
    print(f'{"evaluation":<16} {"AP":>6} {"AP50":>6} {"AP75":>6} {"AR100":>6}')
    for key in ('with_categories', 'class_agnostic'):
        r = res[key]
        print(f'{key:<16} ' + ' '.join(f'{100 * r[k]:>6.1f}'
                                       for k in ('AP', 'AP50', 'AP75', 'AR100')))
    print('\nAP50 per category')
    for name, ap in res['per_category'].items():
        print(f'  {name:<14} {100 * ap:>5.1f}' if not np.isnan(ap) else f'  {name:<14}   -')
    c = _error_breakdown(*loaded, args.found_score, args.fp_score)
    n = max(c['objects'], 1)
    print(f'\n{c["objects"]} objects; a right-category box with IoU >= 0.5: '
          f'{c["found_any_score"]} ({100 * c["found_any_score"] / n:.0f} %) at any score, '
          f'{c["found_at_score"]} ({100 * c["found_at_score"] / n:.0f} %) at score >= '
          f'{args.found_score}')
    print(f'detections at score >= {args.fp_score}: ' + ', '.join(
        f'{k.replace("_", " ")} {c[k]}' for k in ('true_positive', 'duplicate',
                                                   'wrong_category', 'poorly_placed',
                                                   'background')))
    return res, c


if __name__ == '__main__':
    main()

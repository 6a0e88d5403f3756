"""Choose CLPGM's link operating points per category from a prediction dump.

    python tools/test.py CONFIG CKPT --dump work_dirs/x/train_preds.pkl \
        --cfg-options test_dataloader.dataset.ann_file=annotations/train.json
    python tools/analysis/calibrate_link_thresholds.py work_dirs/x/train_preds.pkl \
        [--out thresholds.json] [--default 0.5] [--min-positives 20]
    python tools/analysis/calibrate_link_thresholds.py work_dirs/x/val_preds.pkl \
        --apply thresholds.json     # score another split at the chosen points
    ... --labels position          # a pair's truth from where its nodes lie
    ... --name-lookup              # score the names' skeleton lookup instead
    ... --name-score-power 0.1     # weight the scores by the naming's confidence

For every category, the threshold with the highest link F1 over the dump's candidate
pairs (``link_metric.best_f1_thresholds``). Calibrate on a split you do not report
(the training split), then evaluate with ``LinkPredictionMetric(threshold=<the
dict>)``; the tool prints the dict and the F1 on the dump at 0.5 and at the chosen
points.

``--name-score-power GAMMA`` multiplies every score (the model's, or the lookup's) by
``(q_a q_b) ** GAMMA``, the naming's confidence in the pair's two names, as
``KLPNet(test_cfg.link_name_score_power)`` does at inference: for dumps made without
it (it would apply twice), and to give the lookup baseline the same information.

``--labels`` says how a pair's truth is read (``LinkPredictionMetric(labels=...)``):
``name`` from the names the model gave its two nodes, ``position`` from the
ground-truth keypoints they lie on. ``--name-lookup`` scores the same pairs by a
lookup of the skeleton from the names (the image-blind baseline; perfect under
``name`` by construction).
"""
import argparse
import json
import math
import os.path as osp
import sys
from functools import partial

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kplink_mm.datasets.metainfo import category_slices  # noqa: E402
from kplink_mm.evaluation.functional.links import name_score_weights  # noqa: E402
from kplink_mm.evaluation.dump import records_from_dump  # noqa: E402
from kplink_mm.evaluation.metrics.link_metric import (  # noqa: E402
    LABEL_MODES, best_f1_thresholds, evaluate_records, name_lookup_records,
    record_from_sample)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dump', help='pickle written by tools/test.py --dump')
    parser.add_argument('--out', help='write the thresholds here (JSON)')
    parser.add_argument('--default', type=float, default=0.5,
                        help='threshold of categories with too few true links')
    parser.add_argument('--min-positives', type=int, default=20)
    parser.add_argument('--apply', help='JSON thresholds (from --out) to score this dump '
                        'with, instead of choosing them on it')
    parser.add_argument('--labels', choices=LABEL_MODES, default='name',
                        help="a pair's truth: from its nodes' names or from where they "
                        'lie (default: name)')
    parser.add_argument('--name-lookup', action='store_true',
                        help='score the pairs by the skeleton lookup of their names '
                        '(the image-blind baseline) instead of the model')
    parser.add_argument('--name-score-power', type=float, default=0.0, metavar='GAMMA',
                        help='weight the scores by (q_a q_b)**GAMMA, the naming\'s '
                        'confidence in the two names (default 0: off)')
    args = parser.parse_args(argv)
    if not args.name_score_power >= 0:
        raise SystemExit(f'--name-score-power must be >= 0, got {args.name_score_power}')
    to_record = partial(record_from_sample, slices=category_slices(), labels=args.labels)
    if args.name_score_power > 0:
        to_record = partial(_with_name_weight, to_record=to_record,
                            power=args.name_score_power)
    try:
        records = records_from_dump(args.dump, to_record)
    except ValueError as err:
        raise SystemExit(str(err))
    if args.name_lookup:
        records = name_lookup_records(records)
    if args.name_score_power > 0:
        records = [dict(r, scores=r['scores'] * r['name_weight']) for r in records]
    if args.apply:
        try:
            with open(args.apply) as f:
                thresholds = {str(k): float(v) for k, v in json.load(f).items()}
        except (OSError, ValueError, AttributeError) as err:
            raise SystemExit(f'--apply {args.apply}: cannot read thresholds ({err})')
        thresholds.setdefault('default', args.default)
    else:
        thresholds = best_f1_thresholds(records, args.default, args.min_positives)
    fixed = evaluate_records(records, args.default)
    tuned = evaluate_records(records, thresholds)
    print('| category | threshold | F1 at default | F1 at threshold |')
    print('|---|---|---|---|')
    for cat in sorted(k for k in thresholds if k != 'default'):
        print(f'| {cat} | {thresholds[cat]:.3f} | {100 * fixed.get("F1/" + cat, 0):.1f} '
              f'| {100 * tuned.get("F1/" + cat, 0):.1f} |')
    print(f'| all | - | {100 * fixed["F1"]:.1f} | {100 * tuned["F1"]:.1f} |')
    for level in ('none', 'slight', 'heavy'):
        key = f'F1/occlusion_{level}'
        if key in fixed:
            print(f'| occlusion {level} | - | {100 * fixed[key]:.1f} | {100 * tuned[key]:.1f} |')
    auc = [f'{level} {100 * fixed[f"AUC/occlusion_{level}"]:.1f}'
           for level in ('none', 'slight', 'heavy') if f'AUC/occlusion_{level}' in fixed]
    if auc:
        print('AUC by occlusion: ' + ', '.join(auc))
    print(f'precision / recall at default {100 * fixed["precision"]:.1f} / '
          f'{100 * fixed["recall"]:.1f}, at threshold {100 * tuned["precision"]:.1f} / '
          f'{100 * tuned["recall"]:.1f}; AUC {100 * fixed.get("AUC", float("nan")):.1f}')
    # floored, so the pair that sets a threshold stays above it
    rounded = {k: math.floor(v * 1000) / 1000 for k, v in thresholds.items()}
    labels = '' if args.labels == 'name' else f", labels='{args.labels}'"
    print('LinkPredictionMetric(threshold=' + json.dumps(rounded) + labels + ')')
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(rounded, f, indent=1, sort_keys=True)
    return thresholds


def _with_name_weight(sample: dict, to_record, power: float) -> dict:
    """``to_record(sample)`` plus ``name_weight`` (M,): (q_a q_b) ** power per pair."""
    record = to_record(sample)
    pred = sample['pred_instances']
    if 'keypoint_name_scores' not in pred:
        raise KeyError("pred_instances has no 'keypoint_name_scores', which "
                       '--name-score-power needs (a CKLM head with identity logits)')
    record['name_weight'] = name_score_weights(
        pred['link_pairs'], pred['keypoint_name_scores'], power).astype('float64')
    return record


if __name__ == '__main__':
    main()

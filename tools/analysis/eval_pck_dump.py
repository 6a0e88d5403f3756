"""Recompute per-category PCK / OracleId offline from a `tools/test.py --dump` file.

    python tools/analysis/eval_pck_dump.py work_dirs/x/preds.pkl [--alpha 0.1] [--json out.json]
        [--lis '{"feature_sigma": 0.2}'] [--naming assignment|viewpoint [--viewpoint '{...}']]
        [--naming set --peak-naming work_dirs/x/peak_naming.pth]

``--naming`` re-names a classification CKLM's peaks from the dumped p(keypoint | peak)
before scoring (``evaluation.functional.rename_record``): ``assignment`` is the
one-to-one matching, ``viewpoint`` the viewpoint-consistent one (``--viewpoint``:
``ViewpointNaming`` arguments as JSON), ``set`` the learned peak-set naming
(``--peak-naming``: a checkpoint of ``tools/train_peak_naming.py``). Without it the
dump's own names are scored.

``--lis`` re-assigns the keypoints of overlapping same-category targets with LIS
(``LocationInstabilityAssigner`` arguments as JSON) before scoring, as
``CategoryPCKMetric(lis=...)`` does; the ``overlap/`` keys then score those targets. ``--breakdown`` also prints where the
visible keypoints of overlapping (and, for comparison, non-overlapping) targets go
wrong (``overlap_errors.classify_overlap_errors``): the share LIS could repair.
``--claims`` prints how often two overlapping crops named one peak, how many of those
peaks one claimant owns, and how often the higher peak score or naming confidence picks
that owner (``overlap_errors.claim_collisions``, on the names before any LIS): what a
claim rule such as LIS's ``claim_name_weight`` can win.
"""
import argparse
import json
import math
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

from kplink_mm.evaluation.dump import pck_records_from_dump  # noqa: E402
from kplink_mm.evaluation.functional import KEYPOINT_CHOICES  # noqa: E402
from kplink_mm.evaluation.functional.overlap_errors import (  # noqa: E402
    ERROR_CLASSES, claim_collisions, classify_overlap_errors)
from kplink_mm.evaluation.metrics.category_pck import (  # noqa: E402
    overlap_groups, score_records)
from kplink_mm.evaluation.functional.renaming import rename_record  # noqa: E402
from kplink_mm.models.utils.lis import LocationInstabilityAssigner  # noqa: E402
from naming_benchmark import naming_from_args  # noqa: E402


def format_table(metrics: dict) -> str:
    cats = sorted({k.split('/')[1] for k in metrics if '/' in k and not k.startswith('overlap/')})
    cols = ['PCK', 'OracleId', 'PCK_occluded', 'OracleId_occluded']
    lines = ['| category | ' + ' | '.join(cols) + ' |', '|---' * (len(cols) + 1) + '|']
    for c in cats + ['mean']:
        vals = [metrics.get(f'{col}/{c}' if c != 'mean' else col) for col in cols]
        lines.append(f'| {c} | ' + ' | '.join(
            '-' if v is None else f'{100 * v:.1f}' for v in vals) + ' |')
    return '\n'.join(lines)


def format_breakdown(rows: dict) -> str:
    """rows: name -> classify_overlap_errors counts; percentages of visible keypoints."""
    cols = ERROR_CLASSES + ('recoverable',)
    lines = ['| targets | visible kpts | ' + ' | '.join(cols) + ' |',
             '|---' * (len(cols) + 2) + '|']
    for name, c in rows.items():
        total = max(c['total'], 1)
        lines.append(f"| {name} | {c['total']} | " + ' | '.join(
            f'{100 * c[col] / total:.1f}' for col in cols) + ' |')
    return '\n'.join(lines)


def format_claims(c: dict) -> str:
    """claim_collisions counts as one line of counts and shares."""
    one = max(c['one_right'], 1)
    name = ('-' if c['name_picks_owner'] is None
            else f"{c['name_picks_owner']} ({100 * c['name_picks_owner'] / one:.0f} %)")
    return (f"peaks named by two overlapping crops: {c['collisions']}; one claimant right "
            f"{c['one_right']}, both {c['both_right']}, neither {c['none_right']}\n"
            f"of the {c['one_right']} with one owner, the owner has the higher peak score "
            f"in {c['score_picks_owner']} ({100 * c['score_picks_owner'] / one:.0f} %), "
            f"the higher naming confidence in {name}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dump', help='pickle written by tools/test.py --dump')
    parser.add_argument('--alpha', type=float, default=0.1)
    parser.add_argument('--score-thr', type=float, default=0.0)
    parser.add_argument('--json', help='also write the metrics here')
    parser.add_argument('--lis', help='LIS arguments as JSON, e.g. \'{"feature_sigma": 0.3}\'')
    parser.add_argument('--overlap-thr', type=float, default=0.1,
                        help='box overlap (of the smaller box) that groups targets')
    parser.add_argument('--naming', choices=('assignment', 'viewpoint', 'set'),
                        help="re-name the dumped peaks first (classification heads)")
    parser.add_argument('--viewpoint', default=None,
                        help='ViewpointNaming arguments as JSON (with --naming viewpoint)')
    parser.add_argument('--peak-naming', default=None,
                        help='tools/train_peak_naming.py checkpoint, or several joined by '
                        'commas (an ensemble) (with --naming set)')
    parser.add_argument('--no-keypoint-penalty', type=float, default=0.0,
                        help='PeakSetNaming(no_keypoint_penalty=...) (with --naming set)')
    parser.add_argument('--mirror-test', action='store_true',
                        help='PeakSetNaming(mirror_test=True) (with --naming set)')
    parser.add_argument('--keypoint-choice', choices=KEYPOINT_CHOICES,
                        default='feature', help="with --naming: how each keypoint takes a "
                        "peak (rename_record's keypoint_choice)")
    parser.add_argument('--claims', action='store_true',
                        help='count the peaks two overlapping crops both named, and '
                        'which signal picks their owner (names before any LIS)')
    parser.add_argument('--merge-radius', type=float, default=0.03,
                        help='--claims: collision distance as a fraction of max(bbox w, h)')
    parser.add_argument('--breakdown', action='store_true',
                        help='print the error classes of overlapping targets')
    args = parser.parse_args(argv)
    if args.viewpoint is not None and args.naming != 'viewpoint':
        parser.error('--viewpoint needs --naming viewpoint')
    if (args.peak_naming is not None) != (args.naming == 'set'):
        parser.error('--naming set and --peak-naming go together')
    if args.no_keypoint_penalty != 0.0 and args.naming != 'set':
        parser.error('--no-keypoint-penalty needs --naming set')
    if args.mirror_test and args.naming != 'set':
        parser.error('--mirror-test needs --naming set')
    if args.keypoint_choice != 'feature' and args.naming is None:
        parser.error('--keypoint-choice needs --naming')
    if not (math.isfinite(args.merge_radius) and args.merge_radius >= 0):
        parser.error(f'--merge-radius: expected a finite number >= 0, got {args.merge_radius}')
    assigner = None
    if args.lis is not None:
        try:
            assigner = LocationInstabilityAssigner(**json.loads(args.lis))
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            raise SystemExit(f'--lis {args.lis!r}: {err}')
    try:
        records = pck_records_from_dump(args.dump)
    except ValueError as err:
        raise SystemExit(str(err))
    if args.naming is not None:
        naming = naming_from_args(args.naming, args.viewpoint or '{}', args.peak_naming,
                                  args.no_keypoint_penalty, args.mirror_test)
        try:
            records = [rename_record(r, naming, keypoint_choice=args.keypoint_choice)
                       for r in records]
        except ValueError as err:
            raise SystemExit(f'{args.dump}: {err}')
    # the crops' own names, before LIS re-assigns them
    groups = overlap_groups(records, args.overlap_thr) if args.claims or args.breakdown else None
    claims = None
    if args.claims:
        claims = claim_collisions(records, groups, args.alpha, args.score_thr,
                                  args.merge_radius)
    metrics, _, _ = score_records(records, args.alpha, args.score_thr, args.overlap_thr,
                                  assigner)
    print(format_table(metrics))
    if args.breakdown:
        grouped = {i for g in groups for i in g}
        singles = [[i] for i in range(len(records)) if i not in grouped]
        name = 'overlapping' + (' (after LIS)' if assigner is not None else '')
        print(format_breakdown({
            name: classify_overlap_errors(records, groups, args.alpha, args.score_thr),
            'not overlapping': classify_overlap_errors(records, singles, args.alpha,
                                                       args.score_thr)}))
    if claims is not None:
        print(format_claims(claims))
        metrics.update({f'claims/{k}': v for k, v in claims.items()})
    if metrics['overlap/num_targets']:
        print(f"overlapping targets: {int(metrics['overlap/num_targets'])}, PCK {100 * metrics['overlap/PCK']:.1f}")
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(metrics, f, indent=1, sort_keys=True)
    return metrics


if __name__ == '__main__':
    main()

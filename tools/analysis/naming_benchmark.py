"""CKLM peak-naming benchmark: one classification CKLM's dumped peaks named every way,
side by side in one run, with ratios to the first row.

    python tools/test.py CKLM_CONFIG CKPT --dump val.pkl
    python tools/analysis/naming_benchmark.py val.pkl \\
        [--naming assignment viewpoint set] [--peak-naming work_dirs/x/peak_naming.pth] \\
        [--reference baseline_20e=work_dirs/base20e/20261202_000000/20261202_000000.json] \\
        [--json out.json]

Rows (``--naming``, in this order): ``dump`` (the names the dump holds, i.e. the
config's online naming), ``assignment`` (one-to-one), ``viewpoint``
(``ViewpointNaming``, ``--viewpoint`` JSON arguments) and ``set`` (the learned
peak-set naming, ``--peak-naming`` checkpoint of ``tools/train_peak_naming.py``).
``--reference NAME=JSON`` puts another model's ``tools/test.py`` metrics (e.g. the
category-specific baseline's, same split) first, so the ratios are to it. The
numbers are ``CategoryPCKMetric``'s (``score_records``), the same as ``tools/test.py``
gives for the online namings (tests/tools/test_cklm_end_to_end.py).
"""
import argparse
import json
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

from klpnet_benchmark import print_keypoint_table  # noqa: E402

from kplink_mm.evaluation.dump import pck_records_from_dump  # noqa: E402
from kplink_mm.evaluation.functional import KEYPOINT_CHOICES  # noqa: E402
from kplink_mm.evaluation.functional.renaming import rename_record  # noqa: E402
from kplink_mm.evaluation.metrics.category_pck import score_records  # noqa: E402
from kplink_mm.models.utils.peak_set_naming import PeakSetNaming  # noqa: E402
from kplink_mm.models.utils.viewpoint_naming import ViewpointNaming  # noqa: E402

NAMINGS = ('dump', 'assignment', 'viewpoint', 'set')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('dump', help='tools/test.py --dump of a classification CKLM')
    p.add_argument('--naming', nargs='+', choices=NAMINGS, default=None,
                   help='rows (default: dump, assignment, viewpoint, and set when '
                   '--peak-naming is given)')
    p.add_argument('--viewpoint', default='{}', help='ViewpointNaming arguments as JSON')
    p.add_argument('--peak-naming', nargs='+', default=None, metavar='[LABEL=]CKPT',
                   help='tools/train_peak_naming.py checkpoints: one CKPT is the row '
                   "'set'; LABEL=CKPT entries are rows 'set LABEL', side by side (e.g. "
                   'namers fitted on different training data for the same CKLM); '
                   'CKPT may be several joined by commas, an ensemble')
    p.add_argument('--mirror-test', action='store_true',
                   help="also score every set row with PeakSetNaming(mirror_test=True) "
                   "(rows suffixed 'mirror')")
    p.add_argument('--no-keypoint-penalty', nargs='+', type=float, default=[0.0],
                   metavar='P', help="PeakSetNaming(no_keypoint_penalty=P) for the set "
                   "rows; several values give one row each ('set p2' for P = 2); 'by-prob' "
                   'rows read p(keypoint | peak), which P does not change')
    p.add_argument('--keypoint-choice', nargs='+', choices=KEYPOINT_CHOICES,
                   default=['feature'], help="how each keypoint takes a peak after naming "
                   "(rename_record's keypoint_choice); 'probability' rows are suffixed "
                   "'by-prob' (not the 'dump' row, which keeps the dump's choice)")
    p.add_argument('--reference', default=None, metavar='NAME=JSON',
                   help="another model's tools/test.py metrics, shown first")
    p.add_argument('--json', default=None, help='write all rows\' metrics here')
    return p.parse_args(argv)


def load_reference(spec: str) -> tuple:
    name, sep, path = spec.partition('=')
    if not sep or not name or not path:
        raise SystemExit(f'--reference {spec!r}: expected NAME=METRICS_JSON')
    try:
        with open(path) as f:
            metrics = json.load(f)
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f'--reference {spec!r}: cannot read {path}: {err}')
    if 'kplink/PCK' not in metrics:
        raise SystemExit(f"--reference {spec!r}: {path} has no 'kplink/PCK' (not the "
                         'metrics json of a tools/test.py run with CategoryPCKMetric)')
    return name, metrics


def naming_from_args(name: str, viewpoint: str = '{}', peak_naming: str = None,
                     no_keypoint_penalty: float = 0.0, mirror_test: bool = False):
    """What ``rename_record`` takes for the naming called ``name`` on the command
    line ('dump' and 'assignment' stay strings), its argument errors as SystemExit
    (also used by eval_pck_dump.py). ``peak_naming``: a checkpoint, or several joined
    by commas (an ensemble)."""
    if name == 'viewpoint':
        try:
            return ViewpointNaming(**json.loads(viewpoint))
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            raise SystemExit(f'--viewpoint {viewpoint!r}: {err}')
    if name == 'set':
        try:
            checkpoint = peak_naming.split(',') if ',' in peak_naming else peak_naming
            return PeakSetNaming(checkpoint=checkpoint,
                                 no_keypoint_penalty=no_keypoint_penalty,
                                 mirror_test=mirror_test)
        except ValueError as err:
            raise SystemExit(f'--peak-naming {peak_naming}: {err}')
    return name


def peak_naming_rows(specs) -> dict:
    """{row name: checkpoint} of the ``--peak-naming`` entries: a bare CKPT is the row
    'set', LABEL=CKPT the row 'set LABEL'."""
    rows = {}
    for spec in specs:
        label, sep, path = spec.partition('=')
        if sep and (not label or not path):
            raise SystemExit(f'--peak-naming {spec!r}: expected CKPT or LABEL=CKPT')
        name = f'set {label}' if sep else 'set'
        if name in rows:
            raise SystemExit(f'--peak-naming {spec!r}: the row {name!r} is given twice '
                             '(label each checkpoint: LABEL=CKPT)')
        rows[name] = path if sep else spec
    return rows


def build_namings(args) -> dict:
    """{row name: (naming, keypoint_choice)}, in the order of the table."""
    named = {}
    for row, naming in _namings(args).items():
        if naming == 'dump':
            named[row] = (naming, None)
            continue
        for choice in args.keypoint_choice:
            named[row if choice == 'feature' else f'{row} by-prob'] = (naming, choice)
    return named


def _namings(args) -> dict:
    rows = args.naming or [n for n in NAMINGS if n != 'set' or args.peak_naming]
    if 'set' in rows and not args.peak_naming:
        raise SystemExit('--naming set needs --peak-naming CKPT')
    namings = {}
    for name in rows:
        if name != 'set':
            namings[name] = naming_from_args(name, args.viewpoint)
            continue
        penalties = args.no_keypoint_penalty
        mirrors = (False, True) if args.mirror_test else (False, )
        for row, checkpoint in peak_naming_rows(args.peak_naming).items():
            for penalty in penalties:
                label = row if penalties == [0.0] else f'{row} p{penalty:g}'
                for mirror in mirrors:
                    namings[label + (' mirror' if mirror else '')] = naming_from_args(
                        'set', peak_naming=checkpoint, no_keypoint_penalty=penalty,
                        mirror_test=mirror)
    return namings


def main(argv=None):
    args = parse_args(argv)
    results = {}
    if args.reference:
        name, metrics = load_reference(args.reference)
        results[name] = metrics
    namings = build_namings(args)
    try:
        records = pck_records_from_dump(args.dump)
    except ValueError as err:
        raise SystemExit(str(err))
    for name, (naming, choice) in namings.items():
        try:
            renamed = (records if naming == 'dump'
                       else [rename_record(r, naming, keypoint_choice=choice)
                             for r in records])
        except ValueError as err:
            raise SystemExit(f'{args.dump}: {err}')
        metrics, _, _ = score_records(renamed)
        results[name] = {f'kplink/{k}': v for k, v in metrics.items()}
    print(f'{args.dump}: {len(records)} targets')
    print_keypoint_table(results, name_width=max(14, max(len(n) for n in results) + 2))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(results, f, indent=1, sort_keys=True)
    return results


if __name__ == '__main__':
    main()

"""Validation curves of several training runs, side by side, from their work dirs.

    python tools/analysis/val_curves.py DPAD#0=work_dirs/dpad_s0 DPAD#1=work_dirs/dpad_s1 \
        PAFPN#0=work_dirs/pafpn_s0 PAFPN#1=work_dirs/pafpn_s1 --baseline PAFPN

Each run is ``NAME=WORK_DIR``; the metrics are read from the ``vis_data/scalars.json``
files that mmengine's Runner writes under ``WORK_DIR/<timestamp>/`` (all of them, in
time order, so a resumed run is one curve). Runs whose names share the part before ``#``
are seeds of one model: the final table gives their mean and spread. Prints

1. one curve per run: the first metric at every validation;
2. the last validation of every run and the per-model mean over seeds, all metrics;
3. with ``--baseline``, each model's mean divided by the baseline's.

Metric names are the logged keys (default: mmdet's ``coco/bbox_mAP``, ``_50``, ``_75``;
for the pose configs e.g. ``--metrics PCK/PCK OracleId/PCK``); ``--scale 100`` prints
fractions as percentages.
"""
import argparse
import glob
import json
import os.path as osp
import statistics
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

DEFAULT_METRICS = ['coco/bbox_mAP', 'coco/bbox_mAP_50', 'coco/bbox_mAP_75']


def read_validations(work_dir: str, metrics: List[str]) -> List[Tuple[int, Dict[str, float]]]:
    """(step, {metric: value}) of every logged validation that has the first metric.

    A later record for the same step (a resumed run re-validating) replaces the earlier.
    """
    files = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not files:
        raise FileNotFoundError(f'{work_dir}: no */vis_data/scalars.json (is it an mmengine '
                                'work dir of a run that validated?)')
    by_step: Dict[int, Dict[str, float]] = {}
    for path in files:
        with open(path) as f:
            for lineno, line in enumerate(f, 1):
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as e:
                    raise ValueError(f'{path}:{lineno}: not JSON ({e.msg})') from None
                if metrics[0] in rec:
                    by_step[int(rec['step'])] = {m: float(rec[m]) for m in metrics if m in rec}
    return sorted(by_step.items())


def parse_runs(specs: List[str]) -> 'OrderedDict[str, str]':
    runs: 'OrderedDict[str, str]' = OrderedDict()
    for spec in specs:
        name, sep, work_dir = spec.partition('=')
        if not sep or not name or not work_dir:
            raise ValueError(f'run {spec!r}: expected NAME=WORK_DIR')
        if name in runs:
            raise ValueError(f'run name {name!r} given twice')
        runs[name] = work_dir
    return runs


def model_of(run_name: str) -> str:
    return run_name.split('#', 1)[0]


def summarise(curves: Dict[str, List[Tuple[int, Dict[str, float]]]], metrics: List[str],
              baseline: str = None, scale: float = 1.0) -> str:
    out = []
    steps = sorted({s for c in curves.values() for s, _ in c})
    width = max(len(n) for n in curves) + 2
    out.append(f'{metrics[0]} at each validation (step = epoch, or iteration for '
               'iteration-based loops)')
    out.append(' ' * width + ''.join(f'{s:>8d}' for s in steps))
    for name, curve in curves.items():
        vals = dict((s, v.get(metrics[0])) for s, v in curve)
        out.append(f'{name:<{width}}' + ''.join(
            f'{vals[s] * scale:8.3f}' if vals.get(s) is not None else f'{"-":>8}'
            for s in steps))
    out.append('')
    out.append('last validation of each run')
    out.append(f'{"run":<{width}}{"step":>6}' + ''.join(f'{m:>20}' for m in metrics))
    finals: Dict[str, List[Dict[str, float]]] = OrderedDict()
    for name, curve in curves.items():
        if not curve:
            out.append(f'{name:<{width}}{"-":>6}  (no validation logged)')
            continue
        step, vals = curve[-1]
        finals.setdefault(model_of(name), []).append(vals)
        out.append(f'{name:<{width}}{step:>6d}' + ''.join(
            f'{vals[m] * scale:20.3f}' if m in vals else f'{"-":>20}' for m in metrics))
    out.append('')
    out.append('per model: mean over its runs (min..max)')
    means: Dict[str, Dict[str, float]] = OrderedDict()
    for model, rows in finals.items():
        cells = []
        means[model] = {}
        for m in metrics:
            xs = [r[m] * scale for r in rows if m in r]
            if not xs:
                cells.append(f'{"-":>24}')
                continue
            means[model][m] = statistics.fmean(xs)
            cells.append(f'{means[model][m]:8.3f} ({min(xs):.3f}..{max(xs):.3f})'.rjust(24))
        out.append(f'{model + f" (n={len(rows)})":<{width + 6}}' + ''.join(cells))
    if baseline is not None and baseline not in means:
        out.append('')
        out.append(f'no ratios: the baseline {baseline!r} logged no validation')
    elif baseline is not None:
        out.append('')
        out.append(f'ratios of the means to {baseline!r}')
        for model, vals in means.items():
            out.append(f'{model:<{width + 6}}' + ''.join(
                f'{vals[m] / means[baseline][m]:>19.3f}x' if m in vals and means[baseline].get(m)
                else f'{"-":>20}' for m in metrics))
    return '\n'.join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('runs', nargs='+', help='NAME=WORK_DIR; NAME#k for seed k of a model')
    p.add_argument('--metrics', nargs='+', default=DEFAULT_METRICS)
    p.add_argument('--baseline', help='model name (the part before #) to divide by')
    p.add_argument('--scale', type=float, default=1.0, help='multiply values (100: percent)')
    args = p.parse_args(argv)
    try:
        runs = parse_runs(args.runs)
        if args.baseline is not None and args.baseline not in {model_of(n) for n in runs}:
            raise ValueError(f'--baseline {args.baseline!r} is not one of the models '
                             f'{sorted({model_of(n) for n in runs})}')
        curves = {name: read_validations(wd, args.metrics) for name, wd in runs.items()}
        print(summarise(curves, args.metrics, args.baseline, args.scale))
    except (ValueError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

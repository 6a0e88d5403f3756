"""Occlusion-Net figures from a `tools/test.py --dump` file (Reddy et al. 2019, Sec. 4.2).

    python tools/analysis/plot_occlusion_curves.py work_dirs/x/preds.pkl \\
        [--out-dir DIR] [--bins fraction|count] [--json metrics.json] \\
        [--noise-dumps 0=preds.pkl 0.05=noise005.pkl 0.1=noise01.pkl]

Writes to --out-dir (default: next to the dump, `<dump>_occlusion/`):
  * pck_curves.png        PCK(alpha), alpha in [0, 0.3], visible (dashed) and occluded
                          (solid) keypoints, one panel per occlusion bin (Fig. 5/8);
  * pck_vs_invisible.png  PCK@0.1 and PCK@0.2 vs the occlusion bin (Fig. 6/9);
  * roc.png               occluded-vs-visible ROC of the 2D-KGNN encoder's visibility
                          and of the heatmap confidence, AUCs in the legend (Fig. 3);
  * noise.png             with --noise-dumps: PCK@0.1 of visible / occluded keypoints vs
                          the input-noise level, one dump per level (Fig. 10);
and prints the numbers as markdown tables. Prediction sets: init (the heatmap model),
final (2D-KGNN), reproj (3D-KGNN), as present in the dump. Occlusion bins count the
occluded (state 1) keypoints of each instance: `--bins fraction` (default) as a
fraction of the category's keypoint count, `--bins count` as an absolute number.
ROC: positive class = visible keypoints, score = predicted probability of visible.
"""
import argparse
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import matplotlib  # noqa: E402

matplotlib.use('Agg')
import numpy as np  # noqa: E402

from kplink_mm.datasets.metainfo import category_slices  # noqa: E402
from kplink_mm.evaluation.metrics.occlusion_metric import (  # noqa: E402
    evaluate_records, occlusion_curves, record_from_sample)

SET_LABELS = {'init': 'heatmap (init)', 'final': '2D-KGNN (final)',
              'reproj': '3D-KGNN (reproj)'}
SET_COLORS = {'init': 'tab:blue', 'final': 'tab:orange', 'reproj': 'tab:green'}
STATE_STYLE = {'occluded': '-', 'visible': '--'}
STATE_MARKER = {'occluded': 'o', 'visible': 's'}


def load_records(path: str):
    """Records of every predicted sample of a dump; SystemExit naming what is wrong."""
    from mmengine.fileio import load
    if not osp.isfile(path):
        raise SystemExit(f'cannot read dump {path}: no such file')
    try:
        samples = load(path, file_format='pkl')
    except Exception as err:  # pickle raises many types on corrupt input
        raise SystemExit(f'cannot read dump {path}: {type(err).__name__}: {err}')
    if not isinstance(samples, (list, tuple)):
        raise SystemExit(f'{path}: expected a list of predicted samples (tools/test.py '
                         f'--dump), got {type(samples).__name__}')
    if not samples:
        raise SystemExit(f'{path} holds no predictions')
    slices = category_slices()
    records = []
    for i, sample in enumerate(samples):
        if not isinstance(sample, dict):
            raise SystemExit(f'{path}: sample {i} is a {type(sample).__name__}, not a dict')
        for key in ('pred_instances', 'gt_instances'):
            if key not in sample:
                raise SystemExit(f"{path}: sample {i} lacks '{key}'; was it written by "
                                 'tools/test.py --dump?')
        try:
            records.append(record_from_sample(sample, slices))
        except (KeyError, ValueError, TypeError) as err:
            msg = err.args[0] if isinstance(err, KeyError) and err.args else err
            raise SystemExit(f'{path}: sample {i}: {msg}')
    return records


def _pct(v) -> str:
    return '-' if v is None or not np.isfinite(v) else f'{100 * v:.1f}'


def _md(header, rows) -> str:
    lines = ['| ' + ' | '.join(header) + ' |', '|---' * len(header) + '|']
    lines += ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]
    return '\n'.join(lines)


def format_tables(metrics: dict, curves: dict, alphas=(0.1, 0.2)) -> str:
    a0 = alphas[0]
    header = ['set', f'PCK@{a0:g}'] + [f'PCK@{a:g} {s}' for a in alphas
                                       for s in ('visible', 'occluded')]
    rows = [[s, _pct(metrics.get(f'{s}/PCK@{a0:g}'))] +
            [_pct(metrics.get(f'{s}/PCK@{a:g}_{st}')) for a in alphas
             for st in ('visible', 'occluded')] for s in curves['sets']]
    out = ['PCK (%) of labelled keypoints, threshold alpha * max(bbox w, h)',
           _md(header, rows), '']
    roc_rows = [[k, f"{v['auc']:.3f}" if np.isfinite(v['auc']) else 'nan',
                 v['num_visible'], v['num_occluded']] for k, v in curves['roc'].items()]
    out += ['Occluded-vs-visible classification (positive = visible)',
            _md(['score', 'AUC', '#visible', '#occluded'], roc_rows), '']
    cats = sorted(k.rsplit('/', 1)[1] for k in metrics
                  if k.startswith(f'final/PCK@{a0:g}_occluded/'))
    if cats:
        out += [f'final PCK@{a0:g} (%) of occluded keypoints per category',
                _md(['category', f'PCK@{a0:g} occluded'],
                    [[c, _pct(metrics[f'final/PCK@{a0:g}_occluded/{c}'])] for c in cats]),
                '']
    mode = 'fraction of the category keypoints' if curves['bin_mode'] == 'fraction' \
        else 'number of keypoints'
    header = ['occluded', 'set', '#inst', '#vis', '#occ'] + [
        f'PCK@{a:g} {st}' for a in alphas for st in ('visible', 'occluded')]
    rows = []
    for b, label in enumerate(curves['bins']):
        c = curves['counts'][label]
        for s in curves['sets']:
            vs = curves['pck_vs_invisible'][s]
            rows.append([label, s, c['instances'], c['visible'], c['occluded']] +
                        [_pct(vs[st][a][b]) for a in alphas for st in ('visible', 'occluded')])
    out += [f'PCK (%) vs occluded keypoints per instance ({mode})', _md(header, rows)]
    return '\n'.join(out)


def plot_pck_curves(curves: dict, path: str) -> None:
    import matplotlib.pyplot as plt
    panels = [b for b in curves['bins'] + ['all'] if curves['counts'][b]['visible'] +
              curves['counts'][b]['occluded'] > 0]
    ncol = min(3, len(panels))
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow), squeeze=False)
    alphas = curves['alphas']
    for ax, label in zip(axes.flat, panels):
        for s in curves['sets']:
            for state, style in STATE_STYLE.items():
                y = curves['pck_curves'][s][state][label]
                if np.isfinite(y).any():
                    ax.plot(alphas, 100 * y, style, color=SET_COLORS[s],
                            label=f'{SET_LABELS[s]}, {state}')
        c = curves['counts'][label]
        title = 'all instances' if label == 'all' else f'occluded: {label}'
        ax.set_title(f"{title} ({c['instances']} inst.)", fontsize=9)
        ax.set_xlim(alphas[0], alphas[-1])
        ax.set_ylim(-2, 102)
        ax.set_xlabel('alpha')
        ax.set_ylabel('PCK (%)')
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis('off')
    axes.flat[len(panels) - 1].legend(fontsize=7, loc='lower right')  # 'all': every line
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_pck_vs_invisible(curves: dict, path: str, alphas=(0.1, 0.2)) -> None:
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(alphas), figsize=(5 * len(alphas), 3.6), squeeze=False)
    x = np.arange(len(curves['bins']))
    for ax, a in zip(axes.flat, alphas):
        for s in curves['sets']:
            for state, style in STATE_STYLE.items():
                y = curves['pck_vs_invisible'][s][state][a]
                ax.plot(x, 100 * y, style + STATE_MARKER[state], color=SET_COLORS[s], ms=4,
                        label=f'{SET_LABELS[s]}, {state}')
        ax.set_xticks(x)
        ax.set_xticklabels(curves['bins'])
        ax.set_xlabel('occluded keypoints per instance' +
                      (' (fraction)' if curves['bin_mode'] == 'fraction' else ''))
        ax.set_ylabel('PCK (%)')
        ax.set_ylim(-2, 102)
        ax.set_title(f'alpha = {a:g}')
        ax.grid(alpha=0.3)
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_roc(curves: dict, path: str) -> None:
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    names = {'encoder': '2D-KGNN encoder', 'heatmap': 'heatmap confidence'}
    for which, roc in curves['roc'].items():
        if np.isfinite(roc['auc']):
            ax.plot(roc['fpr'], roc['tpr'], label=f"{names[which]} (AUC {roc['auc']:.3f})")
        else:
            ax.plot([], [], label=f'{names[which]} (AUC undefined: one class)')
    ax.plot([0, 1], [0, 1], ':', color='gray', lw=0.8)
    ax.set_xlabel('false positive rate (occluded called visible)')
    ax.set_ylabel('true positive rate (visible called visible)')
    ax.set_title('Occluded vs visible keypoints')
    ax.set_xlim(-0.01, 1.01)
    ax.set_ylim(-0.01, 1.01)
    ax.legend(fontsize=8, loc='lower right')
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _noise_level(name: str):
    try:
        return float(name)
    except ValueError:
        return None


def noise_study(noise_dumps):
    """{name: metrics} for `NAME=path` items, in the given order (numeric names sorted)."""
    items = []
    for item in noise_dumps:
        name, sep, path = item.partition('=')
        if not sep or not name or not path:
            raise SystemExit(f'--noise-dumps items are NAME=path, got {item!r}')
        items.append((name, path))
    if all(_noise_level(n) is not None for n, _ in items):
        items.sort(key=lambda it: _noise_level(it[0]))
    return [(name, path, evaluate_records(load_records(path)))
            for name, path in items]


def plot_noise(study, path: str, alpha: float = 0.1) -> None:
    import matplotlib.pyplot as plt
    names = [n for n, _, _ in study]
    numeric = all(_noise_level(n) is not None for n in names)
    x = np.array([_noise_level(n) for n in names]) if numeric else np.arange(len(names))
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for s in SET_LABELS:
        for state, style in STATE_STYLE.items():
            y = np.array([m.get(f'{s}/PCK@{alpha:g}_{state}', np.nan) for _, _, m in study])
            if np.isfinite(y).any():
                ax.plot(x, 100 * y, style + STATE_MARKER[state], color=SET_COLORS[s], ms=4,
                        label=f'{SET_LABELS[s]}, {state}')
    if not numeric:
        ax.set_xticks(x)
        ax.set_xticklabels(names)
    ax.set_xlabel('input keypoint noise')
    ax.set_ylabel(f'PCK@{alpha:g} (%)')
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def format_noise_table(study, alpha: float = 0.1) -> str:
    header = ['noise'] + [f'{s} {st}' for s in SET_LABELS for st in ('visible', 'occluded')]
    rows = [[name] + [_pct(m.get(f'{s}/PCK@{alpha:g}_{st}')) for s in SET_LABELS
                      for st in ('visible', 'occluded')] for name, _, m in study]
    return f'PCK@{alpha:g} (%) vs input noise\n' + _md(header, rows)


def _jsonable(v):
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.ndarray):
        return [_jsonable(x) for x in v.tolist()]
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('dump', help='pickle written by tools/test.py --dump')
    parser.add_argument('--out-dir', help='where the PNGs go (default: <dump>_occlusion/)')
    parser.add_argument('--bins', choices=['fraction', 'count'], default='fraction',
                        help='occlusion bins: fraction of the category keypoints '
                        "occluded ('0%%', '0-25%%', ...) or their number ('0', '1-2', ...)")
    parser.add_argument('--noise-dumps', nargs='+', default=[], metavar='NAME=path',
                        help='dumps of the same model at several input-noise levels '
                        '(NAME: the level, e.g. 0.05) for noise.png')
    parser.add_argument('--json', help='also write the metrics and curves here')
    args = parser.parse_args(argv)

    records = load_records(args.dump)
    metrics = evaluate_records(records)
    curves = occlusion_curves(records, bins=args.bins)
    study = noise_study(args.noise_dumps) if args.noise_dumps else None

    out_dir = args.out_dir or osp.splitext(args.dump)[0] + '_occlusion'
    os.makedirs(out_dir, exist_ok=True)
    files = [osp.join(out_dir, f) for f in ('pck_curves.png', 'pck_vs_invisible.png',
                                            'roc.png')]
    plot_pck_curves(curves, files[0])
    plot_pck_vs_invisible(curves, files[1])
    plot_roc(curves, files[2])
    print(format_tables(metrics, curves))
    if study:
        files.append(osp.join(out_dir, 'noise.png'))
        plot_noise(study, files[-1])
        print()
        print(format_noise_table(study))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(_jsonable(dict(metrics=metrics, curves=curves,
                                     noise={n: m for n, _, m in study or []})),
                      f, indent=1)
    print('\nwrote ' + ', '.join(files))
    return dict(metrics=metrics, curves=curves,
                noise={n: m for n, _, m in study or []}, files=files)


if __name__ == '__main__':
    main()

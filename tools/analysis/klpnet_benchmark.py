"""KLPNet benchmark (Table 5 analog): ablation rows side by side, one table each for
keypoints and links.

Each ``--model NAME=CONFIG:CHECKPOINT`` runs ``tools/test.py`` (the config decides the
evaluators: ``klpnet-lis_*`` adds LIS, ``klpnet-detboxes_*`` uses detected boxes) and
the metrics it writes are tabulated:

1. per-category PCK@0.1 of visible keypoints, the mean, occluded PCK, OracleId, and
   PCK on the targets that overlap a same-category target (where LIS acts);
2. link ROC-AUC / AP / F1 per model, and per category and occlusion level for the
   last model.

Ratios are against the first model. Example::

    python tools/analysis/klpnet_benchmark.py \\
        --model backbone=configs/klpnet/klpnet-backbone_res18_cpu_kplink-synth-128x128.py:work_dirs/klp_backbone/epoch_10.pth \\
        --model 'KLPNet*=configs/klpnet/klpnet_res18_cpu_kplink-synth-128x128.py:work_dirs/klp_joint/epoch_10.pth' \\
        --model 'KLPNet+LIS=configs/klpnet/klpnet-lis_res18_cpu_kplink-synth-128x128.py:work_dirs/klp_joint/epoch_10.pth'
"""
import argparse
import glob
import json
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', action='append', required=True, metavar='NAME=CONFIG:CKPT',
                   help='a model (ablation row) to evaluate (repeat)')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'klpnet_benchmark'))
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='passed to every tools/test.py run')
    p.add_argument('--reuse', action='store_true',
                   help='reuse the metrics of an earlier run in --work-dir')
    return p.parse_args(argv)


def latest_metrics(work_dir: str) -> dict:
    files = sorted(glob.glob(osp.join(work_dir, '*', '*.json')))
    if not files:
        raise SystemExit(f'no metrics json under {work_dir}')
    with open(files[-1]) as f:
        return json.load(f)


def _pct(v):
    return '    -' if v is None else f'{100 * v:5.1f}'


def _ratio(a, b):
    return '  -' if a is None or not b else f'{a / b:.2f}x'


def print_keypoint_table(results: dict, name_width: int = 14) -> list:
    """Print per-category visible PCK, mean, occluded, OracleId and overlapping-target
    PCK of ``results`` (name -> tools/test.py metrics, ``kplink/`` keys), with ratios to
    the first row; returns the categories shown."""
    from kplink_mm.datasets.synth.categories import CATEGORIES
    cats = [c for c in CATEGORIES
            if any(f'kplink/PCK/{c}' in m for m in results.values())]
    short = {c: c[:6] for c in cats}
    print('Keypoints: PCK@0.1 (visible) per category, mean; occluded; OracleId; '
          'overlapping targets')
    header = f'{"model":<{name_width}}' + ''.join(f'{short[c]:>7}' for c in cats) + \
        f'{"mean":>7}{"occ":>7}{"Oracle":>7}{"ovl":>7}{"n ovl":>7}'
    print(header)
    print('-' * len(header))
    for name, m in results.items():
        cells = ''.join(f'{_pct(m.get(f"kplink/PCK/{c}")):>7}' for c in cats)
        n = m.get('kplink/overlap/num_targets')
        print(f'{name:<{name_width}}{cells}{_pct(m.get("kplink/PCK")):>7}'
              f'{_pct(m.get("kplink/PCK_occluded")):>7}{_pct(m.get("kplink/OracleId")):>7}'
              f'{_pct(m.get("kplink/overlap/PCK")):>7}'
              f'{"-" if n is None else int(n):>7}')

    first = next(iter(results))
    base = results[first]
    print(f'\nratios to {first!r}: mean PCK, overlapping-target PCK')
    for name, m in results.items():
        print(f'  {name:<{name_width}} '
              f'{_ratio(m.get("kplink/PCK"), base.get("kplink/PCK")):>7} '
              f'{_ratio(m.get("kplink/overlap/PCK"), base.get("kplink/overlap/PCK")):>7}')
    return cats


def main(argv=None):
    args = parse_args(argv)
    from occlusion_benchmark import parse_model, run_test

    models = [parse_model(m) for m in args.model]
    os.makedirs(args.work_dir, exist_ok=True)
    results = {}
    for name, config, ckpt in models:
        tag = ''.join(c if c.isalnum() or c in '-_' else '_' for c in name)
        work = osp.join(args.work_dir, tag)
        if not (args.reuse and glob.glob(osp.join(work, '*', '*.json'))):
            run_test(config, ckpt, osp.join(work, 'preds.pkl'), work, args.cfg_options)
        results[name] = latest_metrics(work)

    cats = print_keypoint_table(results)

    # 'link': a pair's truth from its nodes' names; 'link_pos': from where they lie
    # (LinkPredictionMetric(labels='position'), when the config has one)
    for prefix, title in (('link', 'labels by name'), ('link_pos', 'labels by position')):
        if not any(f'{prefix}/F1' in m for m in results.values()):
            continue
        _print_links(results, cats, prefix, title)
    return results


def _print_links(results: dict, cats, prefix: str, title: str) -> None:
    print(f"\nLinks ({title}, the config's operating points): ROC-AUC, AP, "
          'precision, recall, F1')
    names = ('AUC', 'AP', 'precision', 'recall', 'F1')
    print(f'{"model / group":<26}' + ''.join(f'{n:>10}' for n in names))
    for name, m in results.items():
        if f'{prefix}/F1' in m:
            print(f'{name:<26}' +
                  ''.join(f'{_pct(m.get(f"{prefix}/{n}")):>10}' for n in names))
    last_name, last = list(results.items())[-1]
    groups = [f'/{c}' for c in cats] + ['/occlusion_none', '/occlusion_slight',
                                        '/occlusion_heavy']
    if f'{prefix}/F1' in last:
        print(f'per group, {last_name}:')
        for g in groups:
            if any(f'{prefix}/{n}{g}' in last for n in names):
                print(f'  {g[1:]:<24}' +
                      ''.join(f'{_pct(last.get(f"{prefix}/{n}{g}")):>10}' for n in names))


if __name__ == '__main__':
    main()

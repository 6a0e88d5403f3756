"""Occlusion-Net benchmark: several models on the same split, side by side, one table.

Each ``--model NAME=CONFIG:CHECKPOINT`` is run with ``tools/test.py --dump`` (optionally
also with Gaussian noise on the graph input, ``--noise``), the dumps are scored with
``OcclusionKeypointMetric``'s offline path, and one table is printed: per model and
point set (heatmap ``init``, 2D-KGNN ``final``, 3D-KGNN ``reproj``) PCK@0.1/0.2 of
visible and occluded keypoints and the occlusion AUCs, then the gain ratios the
Occlusion-Net issue asks for. Example::

    python tools/analysis/occlusion_benchmark.py \\
        --model direct=configs/occlusion_net/occlusion-net_res18_cpu_kplink-synth-mv-128x128.py:work_dirs/occ/epoch_20.pth \\
        --model trifocal=configs/occlusion_net/occlusion-net-trifocal_...py:work_dirs/occ_tri/epoch_20.pth \\
        --model vispred=configs/baselines/topdown-heatmap-vispred_...py:work_dirs/vispred/epoch_10.pth \\
        --work-dir work_dirs/occlusion_benchmark --noise 0.02 0.05
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)
sys.path.insert(0, osp.join(ROOT, 'tools', 'analysis'))

COLUMNS = (('PCK@0.1_visible', 'PCK@.1 vis'), ('PCK@0.1_occluded', 'PCK@.1 occ'),
           ('PCK@0.2_visible', 'PCK@.2 vis'), ('PCK@0.2_occluded', 'PCK@.2 occ'))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--model', action='append', required=True, metavar='NAME=CONFIG:CKPT',
                   help='a model to evaluate (repeat)')
    p.add_argument('--work-dir', default=osp.join(ROOT, 'work_dirs', 'occlusion_benchmark'))
    p.add_argument('--noise', type=float, nargs='*', default=[],
                   help='input_noise_std levels (fraction of the crop) for OcclusionNet '
                   'models (Fig. 10)')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='passed to every tools/test.py run')
    p.add_argument('--reuse', action='store_true', help='reuse existing dumps')
    return p.parse_args(argv)


def parse_model(spec: str):
    name, sep, rest = spec.partition('=')
    config, sep2, ckpt = rest.rpartition(':')
    if not (sep and sep2 and name and config and ckpt):
        raise SystemExit(f'--model {spec!r}: expected NAME=CONFIG:CHECKPOINT')
    for what, path in (('config', config), ('checkpoint', ckpt)):
        if not osp.isfile(path):
            raise SystemExit(f'--model {name}: {what} {path} does not exist')
    return name, config, ckpt


def run_test(config, ckpt, dump, work_dir, cfg_options):
    """tools/test.py in a child process (one Runner per process, as users run it)."""
    import subprocess
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'test.py'), config, ckpt,
           '--work-dir', work_dir, '--dump', dump]
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f'tools/test.py {config} {ckpt} failed:\n{proc.stderr[-3000:]}')


def _pct(v):
    return '    -' if v is None else f'{100 * v:5.1f}'


def main(argv=None):
    args = parse_args(argv)
    from mmengine.config import Config
    from plot_occlusion_curves import load_records

    from kplink_mm.evaluation.metrics.occlusion_metric import evaluate_records
    models = [parse_model(m) for m in args.model]
    os.makedirs(args.work_dir, exist_ok=True)
    results, noise_rows = {}, []
    for name, config, ckpt in models:
        is_graph = Config.fromfile(config).model.get('type') == 'OcclusionNet'
        for noise in [0.0] + (list(args.noise) if is_graph else []):
            tag = name if noise == 0 else f'{name}@noise{noise:g}'
            dump = osp.join(args.work_dir, f'{tag}.pkl')
            opts = list(args.cfg_options)
            if is_graph:
                opts.append(f'model.test_cfg.input_noise_std={noise}')
            if not (args.reuse and osp.isfile(dump)):
                run_test(config, ckpt, dump, osp.join(args.work_dir, tag), opts)
            metrics = evaluate_records(load_records(dump))
            if noise == 0:
                results[name] = metrics
            noise_rows.append((name, noise, metrics))

    header = f'{"model":<12} {"point set":<18} ' + ' '.join(
        f'{label:>10}' for _, label in COLUMNS) + f' {"AUC enc":>8} {"AUC hm":>7}'
    print(header)
    print('-' * len(header))
    set_names = {'init': 'heatmap (init)', 'final': '2D-KGNN', 'reproj': '3D-KGNN'}
    for name, metrics in results.items():
        first = True  # the AUCs belong to the model: print them on its first row
        for s, label in set_names.items():
            if f'{s}/PCK@0.1' not in metrics:
                continue
            if s == 'final' and 'init/PCK@0.1' not in metrics:
                label = 'heatmap'  # a model without a graph: its own keypoints
            cells = ' '.join(f'{_pct(metrics.get(f"{s}/{k}")):>10}' for k, _ in COLUMNS)
            auc = (f' {_pct(metrics.get("AUC/encoder")):>8} '
                   f'{_pct(metrics.get("AUC/heatmap")):>7}') if first else ''
            first = False
            print(f'{name:<12} {label:<18} {cells}{auc}')

    # Gains over the heatmap baseline on occluded keypoints, and trifocal / direct.
    gains = {n: m['final/PCK@0.1_occluded'] - m['init/PCK@0.1_occluded']
             for n, m in results.items()
             if 'final/PCK@0.1_occluded' in m and 'init/PCK@0.1_occluded' in m}
    if gains:
        print('\noccluded PCK@0.1 gain of the 2D-KGNN over its heatmap input (points):')
        for n, g in gains.items():
            print(f'  {n:<12} {100 * g:+.1f}')
    # every label-free model (trifocal, its extensions) against direct supervision
    if gains.get('direct', 0) > 0:
        for n, g in gains.items():
            if n != 'direct':
                print(f'  {n} / direct gain ratio: {g / gains["direct"]:.2f}')
    if args.noise:
        print(f'\n{"model":<12} {"noise":>6} {"init occ":>9} {"2D occ":>7} {"2D vis":>7}')
        for name, noise, m in noise_rows:
            if 'final/PCK@0.1' not in m:
                continue
            print(f'{name:<12} {noise:>6g} {_pct(m.get("init/PCK@0.1_occluded")):>9} '
                  f'{_pct(m.get("final/PCK@0.1_occluded")):>7} '
                  f'{_pct(m.get("final/PCK@0.1_visible")):>7}')
    return results


if __name__ == '__main__':
    main()

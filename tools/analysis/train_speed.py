"""Training and inference speed of configs on one device, fp32 and AMP side by side.

    python tools/analysis/train_speed.py CONFIG [CONFIG ...] --device cuda \\
        --precision fp32 amp --iters 20 --warmup 5 --val-batches 4 \\
        --cfg-options model.backbone.init_cfg=None

For each config and precision it builds the model, the config's own train
dataloader, optim wrapper (AMP: mmengine's `AmpOptimWrapper`, as
`tools/train.py --amp` sets it) and iteration-based LR schedulers (the warm-up),
runs `warmup` + `iters` real `train_step`s and then `val_batches` `val_step`s
through the config's `val_evaluator`, and prints one row: seconds per training
step (data loading excluded, the device synchronised), images/s, peak device
memory, the loss before and after, and inference images/s.

A phase that raises is reported in the row's status (the traceback goes to
stderr) and the next config still runs, so one command checks a whole config
family on a new machine. The exit code is 1 when any phase failed. Rows are
comparable only within one run: every row uses the same machine and settings.
"""
import argparse
import json
import math
import os.path as osp
import statistics
import sys
import time
import traceback

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402
from mmengine.config import DictAction  # noqa: E402

from kplink_mm.utils import load_tool_config, use_amp_optim_wrapper  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--precision', nargs='+', choices=['fp32', 'amp'], default=['fp32'])
    parser.add_argument('--iters', type=int, default=10, help='timed training steps')
    parser.add_argument('--warmup', type=int, default=3, help='untimed steps first')
    parser.add_argument('--val-batches', type=int, default=2,
                        help='validation batches run through the evaluator (0: none); '
                        'of several, the first is not timed')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of every config, key=value pairs')
    parser.add_argument('--json', help='also write the rows to this file')
    args = parser.parse_args(argv)
    for config in args.configs:
        if not osp.isfile(config):
            parser.error(f'config {config} does not exist')
    if args.iters < 1 or args.warmup < 0 or args.val_batches < 0:
        parser.error('--iters must be >= 1, --warmup and --val-batches >= 0')
    if 'amp' in args.precision and not args.device.startswith('cuda'):
        parser.error(f'--precision amp needs a CUDA device, not --device {args.device}')
    if args.device.startswith('cuda') and not torch.cuda.is_available():
        parser.error(f'--device {args.device}: no CUDA device is available here')
    return args


def _batches(dataloader):
    """Endless iteration over a dataloader (a short split is cycled)."""
    while True:
        empty = True
        for data in dataloader:
            empty = False
            yield data
        if empty:
            raise RuntimeError('the dataloader yielded no batch')


def _sync(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def _loss_value(log_vars):
    loss = log_vars['loss']
    return float(loss.item() if torch.is_tensor(loss) else loss)


def _batch_size(data):
    inputs = data['inputs']
    return inputs.shape[0] if torch.is_tensor(inputs) else len(inputs)


def _build(cfg, device):
    from mmengine.registry import MODELS, init_default_scope
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    model = MODELS.build(cfg.model)
    if hasattr(model, 'init_weights'):
        model.init_weights()
    return model.to(device)


def _iteration_schedulers(cfg, optim_wrapper):
    """The config's iteration-based schedulers (its LR warm-up), stepped after every
    training step as the Runner does; epoch-based ones would step only at the end of
    an epoch, which these few steps never reach."""
    from mmengine.registry import PARAM_SCHEDULERS
    schedulers = cfg.get('param_scheduler') or []
    if isinstance(schedulers, dict):
        schedulers = [schedulers]
    return [PARAM_SCHEDULERS.build(dict(s), default_args=dict(optimizer=optim_wrapper))
            for s in schedulers if not s.get('by_epoch', True)]


def train_phase(cfg, model, device, iters, warmup):
    from mmengine.optim import build_optim_wrapper
    from mmengine.runner import Runner
    model.train()
    optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
    schedulers = _iteration_schedulers(cfg, optim_wrapper)
    batches = _batches(Runner.build_dataloader(cfg.train_dataloader, seed=0))
    if device.type == 'cuda':
        torch.cuda.reset_peak_memory_stats(device)
    step_times, data_times, losses, batch = [], [], [], 0
    lr_first = optim_wrapper.get_lr()['lr'][0]
    for step in range(warmup + iters):
        t0 = time.perf_counter()
        data = next(batches)
        t1 = time.perf_counter()
        log_vars = model.train_step(data, optim_wrapper)
        _sync(device)
        t2 = time.perf_counter()
        losses.append(_loss_value(log_vars))
        for scheduler in schedulers:
            scheduler.step()
        if step >= warmup:
            step_times.append(t2 - t1)
            data_times.append(t1 - t0)
            batch = _batch_size(data)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == 'cuda' else None
    step = statistics.median(step_times)
    bad = [i for i, v in enumerate(losses) if not math.isfinite(v)]
    return dict(batch=batch, s_per_iter=step, img_per_s=batch / step,
                data_s=statistics.median(data_times), peak_mem_gib=peak,
                lr_first=lr_first, lr_last=optim_wrapper.get_lr()['lr'][0],
                loss_first=losses[0], loss_last=losses[-1],
                first_nonfinite_step=bad[0] if bad else None)


def val_phase(cfg, model, device, num_batches, amp):
    from mmengine.evaluator import Evaluator
    from mmengine.runner import Runner
    model.eval()
    dataloader = Runner.build_dataloader(cfg.val_dataloader, seed=0)
    evaluator = Evaluator(cfg.val_evaluator)
    evaluator.dataset_meta = getattr(dataloader.dataset, 'metainfo', None)
    images, timed_images, seconds = 0, 0, 0.0
    with torch.no_grad(), torch.autocast(device.type, enabled=amp):
        for i, data in enumerate(dataloader):
            if i == num_batches:
                break
            t0 = time.perf_counter()
            outputs = model.val_step(data)
            _sync(device)
            images += _batch_size(data)
            if i > 0 or num_batches == 1:  # the first of several batches warms up
                seconds += time.perf_counter() - t0
                timed_images += _batch_size(data)
            evaluator.process(data_samples=outputs, data_batch=data)
    metrics = evaluator.evaluate(images)
    return dict(infer_img_per_s=timed_images / seconds if seconds else None,
                metrics={k: float(v) for k, v in metrics.items()
                         if isinstance(v, (int, float))})


def measure(config, precision, args):
    """One row: train then val, each phase's failure recorded, not raised."""
    device = torch.device(args.device)
    row = dict(config=osp.basename(config)[:-3], precision=precision, device=str(device),
               status='ok')
    cfg = load_tool_config(config, args.cfg_options)
    if precision == 'amp':
        use_amp_optim_wrapper(cfg)
    try:
        model = _build(cfg, device)
        row['params_m'] = sum(p.numel() for p in model.parameters()) / 1e6
        row.update(train_phase(cfg, model, device, args.iters, args.warmup))
        if row['first_nonfinite_step'] is not None:
            row['status'] = f"non-finite loss from step {row['first_nonfinite_step']}"
    except Exception as exc:  # reported in the row; the next config still runs
        traceback.print_exc()
        row['status'] = f'train failed: {type(exc).__name__}: {exc}'.splitlines()[0]
        return row
    if args.val_batches:
        try:
            row.update(val_phase(cfg, model, device, args.val_batches, precision == 'amp'))
        except Exception as exc:
            traceback.print_exc()
            row['status'] = f'val failed: {type(exc).__name__}: {exc}'.splitlines()[0]
    return row


def _fmt(value, spec):
    return '-' if value is None else format(value, spec)


def print_table(rows):
    print('| config | precision | params (M) | batch | train s/iter | train img/s | '
          'data s/iter | peak mem (GiB) | loss first -> last | infer img/s | status |')
    print('|---|---|---|---|---|---|---|---|---|---|---|')
    for r in rows:
        loss = (f"{r['loss_first']:.3f} -> {r['loss_last']:.3f}"
                if 'loss_first' in r else '-')
        print(f"| {r['config']} | {r['precision']} | {_fmt(r.get('params_m'), '.1f')} | "
              f"{r.get('batch', '-')} | {_fmt(r.get('s_per_iter'), '.3f')} | "
              f"{_fmt(r.get('img_per_s'), '.1f')} | {_fmt(r.get('data_s'), '.3f')} | "
              f"{_fmt(r.get('peak_mem_gib'), '.2f')} | {loss} | "
              f"{_fmt(r.get('infer_img_per_s'), '.1f')} | {r['status']} |")
    # AMP against fp32 of the same config, when both trained
    fp32 = {r['config']: r for r in rows if r['precision'] == 'fp32' and 's_per_iter' in r}
    for r in rows:
        if r['precision'] == 'amp' and 's_per_iter' in r and r['config'] in fp32:
            speedup = fp32[r['config']]['s_per_iter'] / r['s_per_iter']
            print(f"{r['config']}: AMP train step {speedup:.2f}x the speed of fp32")


def main(argv=None):
    args = parse_args(argv)
    rows = [measure(config, precision, args)
            for config in args.configs for precision in args.precision]
    if args.device.startswith('cuda'):
        print(f'device: {torch.cuda.get_device_name(torch.device(args.device))}, '
              f'torch {torch.__version__}')
    else:
        print(f'device: cpu, torch {torch.__version__}, {torch.get_num_threads()} threads')
    print_table(rows)
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(rows, f, indent=1)
    return 1 if any(r['status'] != 'ok' for r in rows) else 0


if __name__ == '__main__':
    sys.exit(main())

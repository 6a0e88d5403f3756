"""Train a detector or pose model from a config (mmdet/mmpose-style options).

Works from any working directory; `--launcher pytorch` also works on CPU-only
machines (gloo), see kplink_mm/utils/distributed.py.
"""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmengine.config import DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from kplink_mm.utils import (finish_distributed, load_tool_config,  # noqa: E402
                             prepare_cpu_distributed, use_amp_optim_wrapper)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Train a kplink_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in the '
        'work dir when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (needs a GPU)')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the LR by the actual total batch size')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs, e.g. '
        'train_cfg.max_epochs=2')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def build_config(args):
    cfg = load_tool_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    if args.amp:
        import torch
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA device; none is available here')
        use_amp_optim_wrapper(cfg)
    if args.auto_scale_lr:
        if 'auto_scale_lr' not in cfg or 'base_batch_size' not in cfg.auto_scale_lr:
            raise SystemExit(
                f'--auto-scale-lr: {args.config} has no auto_scale_lr.base_batch_size')
        cfg.auto_scale_lr.enable = True
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        if not osp.isfile(args.resume):
            raise SystemExit(f'--resume: checkpoint {args.resume} does not exist')
        cfg.resume = True
        cfg.load_from = args.resume
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    finish_distributed()


if __name__ == '__main__':
    main()

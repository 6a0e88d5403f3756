"""Evaluate a checkpoint from a config (mmdet/mmpose-style options)."""
import argparse
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmengine.config import DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

from kplink_mm.utils import finish_distributed, load_tool_config, prepare_cpu_distributed  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Test (and evaluate) a model')
    parser.add_argument('config', help='test config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save evaluation results')
    parser.add_argument(
        '--out', '--dump', dest='out',
        help='dump predictions to this pickle file so metrics can be recomputed '
        'offline')
    parser.add_argument('--show-dir', help='save visualised predictions here')
    parser.add_argument('--show', action='store_true', help='show results')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, key=value pairs')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def _enable_visualization(cfg, show_dir, show):
    hook = cfg.default_hooks.get('visualization')
    if hook is None:
        raise SystemExit(
            '--show/--show-dir: the config has no default_hooks.visualization')
    # mmpose's hook calls the switch `enable`, mmdet's `draw`.
    hook['enable' if 'Pose' in hook.get('type', '') else 'draw'] = True
    hook.show = show
    if show_dir:
        hook['out_dir' if 'Pose' in hook.get('type', '') else 'test_out_dir'] = \
            osp.abspath(show_dir)


def build_config(args):
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    cfg = load_tool_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.show or args.show_dir:
        _enable_visualization(cfg, args.show_dir, args.show)
    if args.out:
        out = osp.abspath(args.out)
        if not out.endswith(('.pkl', '.pickle')):
            raise SystemExit(f'--out/--dump must be a .pkl file, got {args.out}')
        evaluators = cfg.test_evaluator
        if not isinstance(evaluators, list):
            evaluators = [evaluators]
        cfg.test_evaluator = list(evaluators) + [
            dict(type='DumpResults', out_file_path=out)]
    return cfg


def main(argv=None):
    args = parse_args(argv)
    cfg = build_config(args)
    prepare_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    finish_distributed()
    return metrics


if __name__ == '__main__':
    main()

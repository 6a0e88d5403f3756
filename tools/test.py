"""Evaluate a checkpoint from a config (mmdet/mmpose-style options)."""
import argparse
import copy
import os
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from mmengine.config import ConfigDict, DictAction  # noqa: E402
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
        '--tta', action='store_true',
        help='test-time augmentation for detection configs, as in mmdet\'s tools/test.py: '
        'the model is wrapped in the config\'s tta_model and fed its tta_pipeline (by '
        'default DetTTAModel over the image and its horizontal flip). Pose configs '
        'flip through model.test_cfg.flip_test instead')
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


# mmdet's tools/test.py defaults, used when the config names no tta_model / tta_pipeline:
# the detections on the image and on its horizontal flip, flipped back and merged by NMS.
DEFAULT_TTA_MODEL = dict(
    type='DetTTAModel', tta_cfg=dict(nms=dict(type='nms', iou_threshold=0.5), max_per_img=100))
FLIP_TTA = dict(
    type='TestTimeAug',
    transforms=[
        [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
        [dict(type='PackDetInputs',
              meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape', 'scale_factor',
                         'flip', 'flip_direction'))],
    ])


def _enable_tta(cfg):
    if cfg.get('default_scope') != 'mmdet':
        raise SystemExit(
            f'--tta is for detection (mmdet) configs; this one has default_scope='
            f'{cfg.get("default_scope")!r}: pose models flip through model.test_cfg.flip_test')
    dataset = cfg.test_dataloader.dataset
    while 'dataset' in dataset:   # dataset wrappers
        dataset = dataset.dataset
    if 'tta_pipeline' not in cfg:
        pipeline = copy.deepcopy(dataset.pipeline)
        if not pipeline or pipeline[-1].get('type') != 'PackDetInputs':
            raise SystemExit(
                '--tta: the config has no tta_pipeline and its test pipeline does not end '
                'in PackDetInputs, so the flip cannot be added for it; define tta_pipeline')
        pipeline[-1] = copy.deepcopy(FLIP_TTA)
        cfg.tta_pipeline = pipeline
    cfg.model = ConfigDict(**cfg.get('tta_model', DEFAULT_TTA_MODEL), module=cfg.model)
    dataset.pipeline = cfg.tta_pipeline


def build_config(args):
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint} does not exist')
    cfg = load_tool_config(args.config, args.cfg_options, args.launcher, args.work_dir)
    cfg.load_from = args.checkpoint
    if args.tta:
        _enable_tta(cfg)
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

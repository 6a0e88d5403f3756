"""Print GFLOPs and parameters of configs (mmengine's complexity analysis).

    python tools/analysis/get_flops.py CONFIG [CONFIG ...] --shape 256 256

Works for detection (mmdet) and pose (mmpose) configs: the model's tensor-only
`_forward` is measured on one zero image of the given shape (H W). FLOPs are counted
as multiply-adds, mmengine's convention (and the papers').
"""
import argparse
import os.path as osp
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import torch  # noqa: E402
from mmengine.analysis import get_model_complexity_info  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402


class _TensorForward(torch.nn.Module):
    """Feeds a plain tensor through a data-sample model's `_forward`."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model._forward(x)


def complexity(config: str, shape):
    cfg = Config.fromfile(config)  # also runs custom_imports (kplink_mm)
    init_default_scope(cfg.get('default_scope', 'mmdet'))
    from mmengine.registry import MODELS
    model = MODELS.build(cfg.model)
    model.eval()
    info = get_model_complexity_info(_TensorForward(model), input_shape=(3, *shape),
                                     show_table=False, show_arch=False)
    return info['flops'] / 1e9, info['params'] / 1e6


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('configs', nargs='+')
    parser.add_argument('--shape', type=int, nargs=2, default=[256, 256], metavar=('H', 'W'))
    args = parser.parse_args(argv)
    rows = []
    for config in args.configs:
        if not osp.isfile(config):
            raise SystemExit(f'config {config} does not exist')
        with torch.no_grad():
            gflops, mparams = complexity(config, args.shape)
        rows.append((osp.basename(config)[:-3], gflops, mparams))
    print(f'input {args.shape[0]}x{args.shape[1]}')
    print('| config | GFLOPs | params (M) |')
    print('|---|---|---|')
    for name, g, p in rows:
        print(f'| {name} | {g:.2f} | {p:.2f} |')
    return rows


if __name__ == '__main__':
    main()

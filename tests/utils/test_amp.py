"""--amp: tools/train.py and tools/analysis/train_speed.py switch a config to
mmengine's AmpOptimWrapper the same way, and refuse it without a CUDA device."""
import os.path as osp
import runpy

import pytest
from mmengine.config import Config

from kplink_mm.utils import use_amp_optim_wrapper

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = osp.join(REPO, 'configs/klpnet/klpnet_res18_cpu_kplink-synth-128x128.py')


def test_amp_keeps_the_optimizer_and_clipping():
    cfg = Config.fromfile(CONFIG)
    before = cfg.optim_wrapper.to_dict()
    use_amp_optim_wrapper(cfg)
    after = cfg.optim_wrapper.to_dict()
    assert after.pop('type') == 'AmpOptimWrapper' and after.pop('loss_scale') == 'dynamic'
    before.pop('type', None)
    assert after == before  # optimizer, clip_grad, paramwise_cfg unchanged
    cfg.optim_wrapper.loss_scale = 512.0
    use_amp_optim_wrapper(cfg)  # already AMP: left as the user set it
    assert cfg.optim_wrapper.loss_scale == 512.0


def test_train_amp_without_cuda_is_refused(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    train = runpy.run_path(osp.join(REPO, 'tools/train.py'))
    args = train['parse_args']([CONFIG, '--amp'])
    with pytest.raises(SystemExit, match='--amp needs a CUDA device'):
        train['build_config'](args)


def test_train_amp_with_cuda_sets_the_amp_wrapper(monkeypatch):
    import torch
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: True)
    train = runpy.run_path(osp.join(REPO, 'tools/train.py'))
    cfg = train['build_config'](train['parse_args']([CONFIG, '--amp']))
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper'
    assert cfg.optim_wrapper.clip_grad.to_dict() == dict(max_norm=10.0, norm_type=2)

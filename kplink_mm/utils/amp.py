"""Switching a config to mixed precision, as `tools/train.py --amp` does."""


def use_amp_optim_wrapper(cfg):
    """Make `cfg.optim_wrapper` mmengine's `AmpOptimWrapper` (dynamic loss scale).

    Needs a CUDA device at run time; the caller checks, since it knows which
    flag the user gave.
    """
    if cfg.optim_wrapper.get('type', 'OptimWrapper') != 'AmpOptimWrapper':
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
    return cfg

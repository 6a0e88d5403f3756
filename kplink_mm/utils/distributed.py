"""Distributed training on machines without a GPU.

mmengine 0.10.7's `init_dist` calls `torch.cuda.set_device` unconditionally and the
Runner wraps the model in DDP with `device_ids=[LOCAL_RANK]`, both of which fail on a
CPU-only machine. Here the process group is initialised with gloo *before* the
Runner is built (the Runner then skips its own init) and DDP gets `device_ids=None`.
On GPU machines nothing is changed: mmengine's own path is used.
"""
import os

import torch
import torch.distributed as torch_dist


def _slurm_to_torch_env():
    # srun sets SLURM_*; gloo's env:// init reads the torchrun-style variables.
    env = os.environ
    env.setdefault('RANK', env['SLURM_PROCID'])
    env.setdefault('WORLD_SIZE', env['SLURM_NTASKS'])
    env.setdefault('LOCAL_RANK', env.get('SLURM_LOCALID', '0'))
    env.setdefault('MASTER_PORT', '29500')
    if 'MASTER_ADDR' not in env:
        nodelist = env.get('SLURM_NODELIST', '127.0.0.1')
        env['MASTER_ADDR'] = nodelist.split(',')[0].split('[')[0]


def prepare_cpu_distributed(cfg, launcher: str) -> bool:
    """Initialise gloo and a CPU-compatible DDP wrapper if needed.

    Returns True when the CPU path was taken.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return False
    if launcher == 'slurm':
        _slurm_to_torch_env()
    elif launcher != 'pytorch':
        raise ValueError(
            f"launcher '{launcher}' is not supported without a GPU; use "
            "'pytorch' (tools/dist_train.sh) or 'slurm'")
    missing = [k for k in ('RANK', 'WORLD_SIZE', 'MASTER_ADDR', 'MASTER_PORT')
               if k not in os.environ]
    if missing:
        raise RuntimeError(
            f'--launcher {launcher} needs the environment variables {missing}; '
            'start the job with tools/dist_train.sh (torchrun) or srun')
    if not torch_dist.is_initialized():
        torch_dist.init_process_group(backend='gloo', init_method='env://')
    wrapper = dict(cfg.get('model_wrapper_cfg') or {})
    wrapper.setdefault('type', 'MMDistributedDataParallel')
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    env_cfg = cfg.setdefault('env_cfg', {})
    env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
    return True


def finish_distributed() -> None:
    """Tear the process group down on every rank before the interpreter exits.

    Without this, rank 0 (which hosts the TCPStore) can exit while another rank's
    gloo threads still talk to it, and that rank aborts with "terminate called
    without an active exception" after training already succeeded.
    """
    if torch_dist.is_available() and torch_dist.is_initialized():
        torch_dist.barrier()
        torch_dist.destroy_process_group()

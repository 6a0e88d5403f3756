from .amp import use_amp_optim_wrapper
from .checkpoint_compat import CHECKPOINT_SAFE_GLOBALS, register_checkpoint_safe_globals
from .distributed import finish_distributed, prepare_cpu_distributed
from .paths import REPO_ROOT, data_root, default_work_dir, load_tool_config

__all__ = [
    'CHECKPOINT_SAFE_GLOBALS', 'register_checkpoint_safe_globals',
    'prepare_cpu_distributed', 'finish_distributed', 'REPO_ROOT', 'data_root', 'default_work_dir',
    'load_tool_config', 'use_amp_optim_wrapper'
]

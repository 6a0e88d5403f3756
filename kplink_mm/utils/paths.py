"""OpenMMLab's usual places (data/, work_dirs/), resolved from the repo root.

Tools and configs must work from any working directory, so nothing here depends on
the CWD. `KPLINK_DATA_ROOT` overrides where datasets live (e.g. a shared disk).
"""
import os
import os.path as osp

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def data_root(*parts: str) -> str:
    base = os.environ.get('KPLINK_DATA_ROOT') or osp.join(REPO_ROOT, 'data')
    return osp.join(base, *parts)


def default_work_dir(config_path: str) -> str:
    name = osp.splitext(osp.basename(config_path))[0]
    return osp.join(REPO_ROOT, 'work_dirs', name)


def load_tool_config(config_path: str, cfg_options=None, launcher: str = 'none',
                     work_dir: str = None):
    """What tools/train.py and tools/test.py both do first with a config.

    Merges `--cfg-options`, records the launcher, and puts the work dir at
    `--work-dir`, else the config's `work_dir`, else `work_dirs/<config name>` under
    the repo root.
    """
    from mmengine.config import Config
    if not osp.isfile(config_path):
        raise SystemExit(f'config {config_path} does not exist')
    cfg = Config.fromfile(config_path)
    if cfg_options is not None:
        cfg.merge_from_dict(cfg_options)
    cfg.launcher = launcher
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(config_path)
    return cfg

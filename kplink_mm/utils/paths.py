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

"""Test-only hook: each rank writes a marker file when training ends."""
import os

from mmengine.dist import get_rank, get_world_size
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


@HOOKS.register_module(force=True)
class RankFinishedMarkerHook(Hook):

    def after_train(self, runner):
        out = os.environ['KPLINK_RANK_MARKER_DIR']
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, f'rank{get_rank()}_of_{get_world_size()}'), 'w') as f:
            f.write(str(runner.iter))

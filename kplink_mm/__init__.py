"""kplink_mm: KLPNet and Occlusion-Net for mmdet/mmpose users.

Importing the package registers its parts into the host libraries' registries
(detection parts into mmdet's, pose parts into mmpose's), which is what a config's
`custom_imports=dict(imports=['kplink_mm'])` relies on.
"""
from .utils import register_checkpoint_safe_globals
from .version import __version__

# Before anything can load a checkpoint (torch>=2.6 weights_only default).
register_checkpoint_safe_globals()

from . import codecs, datasets, evaluation, models, visualization  # noqa: E402,F401

__all__ = ['__version__']

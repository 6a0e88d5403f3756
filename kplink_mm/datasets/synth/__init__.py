"""kplink-synth: a procedural, Pascal3D+-like keypoint + link benchmark.

Pure numpy (cv2 only for JPEG I/O and blur). See ``docs/synth_schema.md``.

* :mod:`.categories` -- categories, keypoint names, skeletons, parametric models;
* :mod:`.render` -- z-buffer rasteriser, shading, procedural backgrounds;
* :mod:`.scene` -- scenes, cameras, rendering, keypoint visibility;
* :mod:`.generator` -- COCO-format splits, the default benchmark.
"""
from .categories import CATEGORIES, CategorySpec, ObjectModel, category_names, get_category
from .generator import (DEFAULT_SPLITS, ensure_default_synth, generate_split,
                        occlusion_recovery)
from .scene import (Camera, Instance, Scene, compute_visibility, make_cameras, make_scene,
                    raycast_visibility, render_view)

__all__ = [
    'CATEGORIES', 'CategorySpec', 'ObjectModel', 'category_names', 'get_category',
    'DEFAULT_SPLITS', 'ensure_default_synth', 'generate_split', 'occlusion_recovery',
    'Camera', 'Instance', 'Scene', 'compute_visibility', 'make_cameras', 'make_scene',
    'raycast_visibility', 'render_view'
]

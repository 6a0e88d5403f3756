"""PCA shape bases of the kplink-synth categories (Occlusion-Net's 3D-KGNN).

For each category, random instances of its parametric model are drawn (one random
stream per category from ``seed`` and the category id, so a category's basis does
not depend on which others are built), their 3D keypoints are put in the
category's canonical frame and a PCA basis is fitted
(:mod:`kplink_mm.geometry.shape_basis`).

Canonical frame (as ``CategorySpec.canonical_keypoints()``): every instance is
centred on the centre of its keypoints' bounding box and divided by the largest
bounding-box side of the category's *mean* shape (one constant per category,
stored as ``<category>/scale`` in metres), so coordinates are ~[-0.5, 0.5] and
size variation is kept. The models are built in the object frame (x front, y left,
z up), so no rotation alignment is needed.
"""
import fcntl
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .categories import CATEGORIES, get_category

# Rank tolerance: components with sigma below this fraction of the first carry only
# rounding noise and would make beta = coefficient / sigma explode.
RANK_RTOL = 1e-6
DEFAULT_NUM_SAMPLES = 500
DEFAULT_NUM_COMPONENTS = 5


def canonical_shapes(spec, num_samples: int, seed: int) -> Tuple[np.ndarray, float]:
    """``(shapes (M, N, 3) float64 canonical, scale)`` of ``num_samples`` random
    instances of ``spec``; ``scale`` is the mean shape's largest keypoint
    bounding-box side in metres."""
    mean_kp = spec.sample_model(None).keypoints.astype(np.float64)
    scale = float((mean_kp.max(0) - mean_kp.min(0)).max())
    rng = np.random.default_rng([seed, spec.id])
    shapes = np.stack([spec.sample_model(rng).keypoints for _ in range(num_samples)]
                      ).astype(np.float64)
    centre = (shapes.min(1, keepdims=True) + shapes.max(1, keepdims=True)) / 2
    return (shapes - centre) / scale, scale


def data_rank(shapes: np.ndarray) -> int:
    """Number of components the centred samples support (numerical rank)."""
    flat = shapes.reshape(len(shapes), -1)
    s = np.linalg.svd(flat - flat.mean(0), compute_uv=False)
    return int((s > RANK_RTOL * s[0]).sum()) if len(s) and s[0] > 0 else 0


def build_shape_bases(categories: Optional[Sequence[str]] = None,
                      num_samples: int = DEFAULT_NUM_SAMPLES,
                      num_components: int = DEFAULT_NUM_COMPONENTS,
                      seed: int = 0) -> Tuple[Dict[str, dict], List[tuple]]:
    """Fit one basis per category; returns ``(bases, rows)`` where each row is
    ``(name, num_keypoints, components kept, explained_variance_ratio)``."""
    from ...geometry.shape_basis import fit_shape_basis
    if num_samples < 2:
        raise ValueError('num_samples must be at least 2')
    if num_components < 1:
        raise ValueError('num_components must be at least 1')
    specs = [get_category(n) for n in (categories or list(CATEGORIES))]
    bases, rows = {}, []
    for spec in specs:
        shapes, scale = canonical_shapes(spec, num_samples, seed)
        k = min(num_components, data_rank(shapes))
        if k < 1:
            raise ValueError(f'{spec.name}: the {num_samples} samples do not vary')
        basis = fit_shape_basis(shapes, k)
        basis['keypoint_names'] = np.array(spec.keypoint_names)
        basis['scale'] = np.array(scale)
        basis['num_samples'] = np.array(num_samples)
        bases[spec.name] = basis
        rows.append((spec.name, spec.num_keypoints, k, basis['explained_variance_ratio']))
    return bases, rows


def ensure_shape_bases(path: str) -> str:
    """Return ``path``, building the default bases of all categories there first if
    it does not exist (so a fresh machine needs no manual step)."""
    from ...geometry.shape_basis import save_shape_bases
    if osp.isfile(path):
        return path
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, '.shape_basis.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not osp.isfile(path):
                save_shape_bases(path, build_shape_bases()[0])
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path

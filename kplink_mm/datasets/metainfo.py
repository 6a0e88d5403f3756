"""mmpose metainfo for the union keypoint space of several categories.

mmpose datasets, transforms and metrics assume one keypoint count K per dataset. The
union space keeps that contract without forking mmpose: K = sum of every category's
keypoint count, slot names are `category/keypoint`, each instance fills only its own
category's slice (other slots have visibility 0), and `flip_indices` are defined over
the union (a left/right pair swaps within its category's slice).
"""
import colorsys
from typing import Dict, Sequence, Tuple

from .synth.categories import CATEGORIES, get_category


def _palette(n: int, seed_offset: float = 0.0):
    return [[int(255 * c) for c in colorsys.hsv_to_rgb((i / max(n, 1) + seed_offset) % 1.0, 0.75, 0.95)]
            for i in range(n)]


def category_slices(category_names: Sequence[str] = None) -> Dict[str, Tuple[int, int]]:
    """`{category name: (first union slot, keypoint count)}`, in category order."""
    names = list(category_names) if category_names is not None else list(CATEGORIES)
    slices, start = {}, 0
    for name in names:
        n = len(get_category(name).keypoint_names)
        slices[name] = (start, n)
        start += n
    return slices


def build_union_metainfo(category_names: Sequence[str] = None,
                         dataset_name: str = 'kplink_synth') -> dict:
    """The raw (un-parsed) mmpose metainfo dict for the union keypoint space."""
    names = list(category_names) if category_names is not None else list(CATEGORIES)
    slices = category_slices(names)
    keypoint_info, skeleton_info = {}, {}
    colors = _palette(len(names))
    for ci, name in enumerate(names):
        spec = get_category(name)
        start, _ = slices[name]
        swap = {}
        for a, b in spec.flip_pairs:
            swap[a], swap[b] = b, a
        for k, kp_name in enumerate(spec.keypoint_names):
            keypoint_info[start + k] = dict(
                name=f'{name}/{kp_name}', id=start + k, color=colors[ci],
                type='', swap=f'{name}/{spec.keypoint_names[swap[k]]}' if k in swap else '')
        for a, b in spec.skeleton:
            idx = len(skeleton_info)
            skeleton_info[idx] = dict(
                link=(f'{name}/{spec.keypoint_names[a]}', f'{name}/{spec.keypoint_names[b]}'),
                id=idx, color=colors[ci])
    num_keypoints = len(keypoint_info)
    return dict(
        dataset_name=dataset_name,
        classes=tuple(names),
        category_ids=tuple(get_category(n).id for n in names),
        category_slices=slices,
        paper_info=dict(
            author='kplink_mm', title='kplink-synth: procedural multi-class keypoint '
            'benchmark', container='', year='2026', homepage=''),
        keypoint_info=keypoint_info,
        skeleton_info=skeleton_info,
        joint_weights=[1.0] * num_keypoints,
        # OKS sigmas are not used by this package's metrics; COCO's median value.
        sigmas=[0.072] * num_keypoints,
    )

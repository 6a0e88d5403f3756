"""Scenes (instances on the ground plane), cameras, rendering and keypoint visibility.

Visibility rule (see ``docs/synth_schema.md``): a keypoint whose projection falls
outside the image (or behind the camera) is *outside* (0). Otherwise it is
tested against the rendered depth map: the keypoint is first stepped off the
surface along its outward direction by ``offset_frac`` x object size
(``p' = p + eps n``), which puts it in free space in front of all faces that meet
at it -- this makes keypoints on edges, corners and silhouettes well defined --
and the rendered depth ``D`` at the pixel containing the projection of ``p'`` is
compared with the depth ``z'`` of ``p'``:

* ``D >= z' - tol`` (``tol = tol_frac`` x object size): nothing is in front ->
  *visible* (2). This covers the usual case (the pixel shows this instance's
  surface at the keypoint's depth) and keypoints exactly on the silhouette, whose
  pixel may show the background or something behind;
* ``D < z' - tol``: *occluded* (1); the occluder is the instance rendered at that
  pixel (the same instance = self-occlusion).

To be less sensitive to where the pixel grid falls, the test is a vote of the four
pixel centres around the projection of ``p'``: occluded if at least three of them
are blocked, or two including the pixel containing ``p'`` (``neighborhood=True``).
Against exact ray casting (:func:`raycast_visibility`) this agrees on ~99% of the
keypoints at 256x256 (98.8% with the single pixel); the rest are sub-pixel cases on
thin parts and far silhouettes.

:func:`raycast_visibility` gives the exact geometric answer (ray/triangle tests)
and is used by the tests to check that the depth-map labels agree with it.
"""
import zlib
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from kplink_mm.geometry.camera import (camera_center, intrinsics, look_at, project_points,
                                       rotation_z)
from .categories import CATEGORIES, CategorySpec, ObjectModel, get_category
from .render import (Appearance, RenderResult, finish_image, procedural_background,
                     render_meshes, sample_appearance, shade_faces, shadow_mask)

__all__ = ['Instance', 'Scene', 'Camera', 'make_scene', 'make_cameras', 'render_view',
           'compute_visibility', 'raycast_visibility', 'KeypointLabels', 'scene_seed_sequence',
           'STATE_OUTSIDE', 'STATE_OCCLUDED', 'STATE_VISIBLE']

STATE_OUTSIDE, STATE_OCCLUDED, STATE_VISIBLE = 0, 1, 2
NEAR = 0.05


@dataclass
class Instance:
    """An object placed in the world: ``X_world = scale * R_obj @ X_obj + t_obj``."""
    instance_id: int
    category: CategorySpec
    model: ObjectModel
    R_obj: np.ndarray
    t_obj: np.ndarray
    scale: float = 1.0

    def to_world(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) * self.scale) @ self.R_obj.T + self.t_obj

    @property
    def keypoints_world(self) -> np.ndarray:
        return self.to_world(self.model.keypoints)

    @property
    def normals_world(self) -> np.ndarray:
        return np.asarray(self.model.keypoint_normals, dtype=np.float64) @ self.R_obj.T

    @property
    def vertices_world(self) -> np.ndarray:
        return self.to_world(self.model.vertices)

    @property
    def size(self) -> float:
        """Largest extent of the placed mesh (m)."""
        return self.model.size * self.scale

    def footprint(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ground footprint rectangle: ``(center_xy, R2 (2,2) columns = axes, half)``."""
        v = self.model.vertices
        lo, hi = v[:, :2].min(0), v[:, :2].max(0)
        c_obj = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, 0.0])
        center = self.to_world(c_obj[None])[0, :2]
        return center, self.R_obj[:2, :2].copy(), (hi - lo) / 2 * self.scale


@dataclass
class Scene:
    """A static scene. Meshes are concatenated in world coordinates with their
    shaded face colours (view independent) and the owning instance of every face."""
    scene_id: int
    instances: List[Instance]
    appearance: Appearance
    vertices: np.ndarray = field(repr=False, default=None)
    faces: np.ndarray = field(repr=False, default=None)
    face_rgb: np.ndarray = field(repr=False, default=None)
    face_instance: np.ndarray = field(repr=False, default=None)

    def __post_init__(self):
        if self.vertices is None:
            self.rebuild()

    def rebuild(self) -> None:
        """(Re)compute the concatenated world mesh and shading."""
        vs, fs, cs, ids = [], [], [], []
        off = 0
        for inst in self.instances:
            v = inst.vertices_world
            vs.append(v)
            fs.append(inst.model.faces.astype(np.int64) + off)
            cs.append(inst.model.face_colors)
            ids.append(np.full(len(inst.model.faces), inst.instance_id, dtype=np.int32))
            off += len(v)
        if not vs:
            self.vertices = np.zeros((0, 3))
            self.faces = np.zeros((0, 3), np.int64)
            self.face_rgb = np.zeros((0, 3), np.float32)
            self.face_instance = np.zeros(0, np.int32)
            return
        self.vertices = np.concatenate(vs)
        self.faces = np.concatenate(fs)
        app = self.appearance
        self.face_rgb = shade_faces(self.vertices, self.faces, np.concatenate(cs),
                                    app.light_dir, app.ambient, app.diffuse)
        self.face_instance = np.concatenate(ids)

    def instance(self, instance_id: int) -> Instance:
        for inst in self.instances:
            if inst.instance_id == instance_id:
                return inst
        raise KeyError(f'scene {self.scene_id} has no instance {instance_id}')


@dataclass
class Camera:
    K: np.ndarray
    R: np.ndarray
    t: np.ndarray
    height: int
    width: int
    view_id: int = 0

    @property
    def center(self) -> np.ndarray:
        return camera_center(self.R, self.t)

    def project(self, X: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        return project_points(X, self.K, self.R, self.t)


def scene_seed_sequence(seed: int, split: str, scene_index: int) -> np.random.SeedSequence:
    """The seed of one scene: a function of ``(seed, split name, scene index)`` only,
    so results do not depend on how scenes are distributed over workers."""
    return np.random.SeedSequence([int(seed), zlib.crc32(split.encode('utf-8')),
                                   int(scene_index)])


# ----------------------------------------------------------------------------------
# scene sampling
# ----------------------------------------------------------------------------------
def _obb_separated(a, b, margin: float) -> bool:
    (ca, Ra, ha), (cb, Rb, hb) = a, b
    d = cb - ca
    for axis in (Ra[:, 0], Ra[:, 1], Rb[:, 0], Rb[:, 1]):
        ra = ha[0] * abs(Ra[:, 0] @ axis) + ha[1] * abs(Ra[:, 1] @ axis)
        rb = hb[0] * abs(Rb[:, 0] @ axis) + hb[1] * abs(Rb[:, 1] @ axis)
        if abs(d @ axis) > ra + rb + margin:
            return True
    return False


def _resolve_categories(categories) -> List[CategorySpec]:
    if categories is None:
        return list(CATEGORIES.values())
    if isinstance(categories, (str, int, CategorySpec)):
        categories = [categories]
    specs = [get_category(c) for c in categories]
    if not specs:
        raise ValueError('categories must not be empty')
    return specs


def make_scene(rng: np.random.Generator, categories: Optional[Sequence[Union[str, int]]] = None,
               max_instances: int = 3, min_instances: int = 1, scene_id: int = 0,
               same_category_prob: float = 0.5, size_ratio: float = 3.0,
               scale_range: Tuple[float, float] = (0.9, 1.1),
               gap_range: Tuple[float, float] = (0.01, 0.3),
               appearance: Optional[Appearance] = None) -> Scene:
    """Sample ``min_instances..max_instances`` objects on the ground plane.

    The first category is uniform over ``categories``; each further instance has
    the same category with probability ``same_category_prob``, otherwise a
    category whose typical size is within ``size_ratio`` of the first one's (so a
    bottle is not placed next to a bus). Instances get a random yaw, an isotropic
    scale in ``scale_range`` and are packed around each other with footprint
    gaps of ``gap_range`` x size (no 3D interpenetration: the ground rectangles
    are tested with a separating-axis test), so they often occlude each other in
    the image. Instance ids are ``0..n-1``.
    """
    specs = _resolve_categories(categories)
    if max_instances < 1 or min_instances < 1 or min_instances > max_instances:
        raise ValueError(f'bad instance range [{min_instances}, {max_instances}]')
    n = int(rng.integers(min_instances, max_instances + 1))
    first = specs[int(rng.integers(len(specs)))]
    s0 = first.typical_size
    similar = [c for c in specs if 1 / size_ratio <= c.typical_size / s0 <= size_ratio]
    instances: List[Instance] = []
    fps = []
    for k in range(n):
        if k == 0:
            cat = first
        elif rng.random() < same_category_prob:
            cat = first
        else:
            cat = similar[int(rng.integers(len(similar)))]
        model = cat.sample_model(rng)
        scale = float(rng.uniform(*scale_range))
        yaw = float(rng.uniform(-np.pi, np.pi))
        R = rotation_z(yaw)
        inst = Instance(instance_id=k, category=cat, model=model, R_obj=R,
                        t_obj=np.zeros(3), scale=scale)
        if k > 0:
            placed = False
            c_new, _, h_new = inst.footprint()
            r_new = float(np.hypot(*h_new))
            for _ in range(60):
                anchor = int(rng.integers(len(instances)))
                ca, _, ha = fps[anchor]
                r_a = float(np.hypot(*ha))
                ang = rng.uniform(0, 2 * np.pi)
                gap = rng.uniform(*gap_range) * max(inst.size, instances[anchor].size)
                dist = rng.uniform(0.2, 0.8) * (r_a + r_new) + gap
                target = ca + dist * np.array([np.cos(ang), np.sin(ang)])
                inst.t_obj = np.array([target[0] - c_new[0], target[1] - c_new[1], 0.0])
                fp = inst.footprint()
                margin = 0.03 * max(inst.size, 0.3)
                if all(_obb_separated(fp, f, margin) for f in fps):
                    placed = True
                    break
            if not placed:
                continue
        instances.append(inst)
        fps.append(inst.footprint())
    for i, inst in enumerate(instances):
        inst.instance_id = i
    # centre the group on the origin
    allv = np.concatenate([i.vertices_world for i in instances])
    mid = (allv[:, :2].min(0) + allv[:, :2].max(0)) / 2
    for inst in instances:
        inst.t_obj = inst.t_obj - np.array([mid[0], mid[1], 0.0])
    if appearance is None:
        appearance = sample_appearance(rng, scale=max(i.size for i in instances))
    return Scene(scene_id=scene_id, instances=instances, appearance=appearance)


def make_cameras(rng: np.random.Generator, scene: Scene, num_views: int = 1,
                 image_size: Tuple[int, int] = (256, 256),
                 elevation_deg: Tuple[float, float] = (5.0, 45.0),
                 hfov_deg: Tuple[float, float] = (35.0, 65.0),
                 fill_range: Tuple[float, float] = (0.8, 1.6),
                 azimuth_jitter_deg: float = 20.0, roll_deg: float = 3.0) -> List[Camera]:
    """Perspective cameras looking at the scene.

    ``image_size`` is ``(H, W)``. Each camera looks at the (jittered) centre of the
    scene from azimuth ``az0 + 360 k / num_views`` (+- ``azimuth_jitter_deg``),
    elevation uniform in ``elevation_deg``, with a random horizontal FOV and a
    distance such that the scene's bounding sphere spans ``fill`` times the
    smaller image side (``fill > 1`` crops it: truncated instances), a small roll
    and a jittered principal point. All views see the same static scene.
    """
    H, W = int(image_size[0]), int(image_size[1])
    V = scene.vertices
    lo, hi = V.min(0), V.max(0)
    center = (lo + hi) / 2
    az0 = rng.uniform(0, 2 * np.pi)
    cams = []
    for k in range(num_views):
        target = center + rng.uniform(-0.12, 0.12, 3) * (hi - lo) * np.array([1, 1, 0.5])
        rho = float(np.sqrt(((V - target) ** 2).sum(1).max()))
        hfov = np.deg2rad(rng.uniform(*hfov_deg))
        f = (W / 2) / np.tan(hfov / 2)
        half = np.arctan(min(H, W) / 2 / f)
        fill = rng.uniform(*fill_range)
        dist = rho / np.sin(half) / fill
        dist = max(dist, 1.15 * rho + 10 * NEAR)
        az = az0 + 2 * np.pi * k / num_views + np.deg2rad(
            rng.uniform(-azimuth_jitter_deg, azimuth_jitter_deg))
        el = np.deg2rad(rng.uniform(*elevation_deg))
        eye = target + dist * np.array([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az),
                                        np.sin(el)])
        R, t = look_at(eye, target)
        roll = np.deg2rad(rng.normal(0, roll_deg))
        R = rotation_z(roll) @ R          # roll about the optical axis
        t = -R @ eye
        cx = W / 2 + rng.uniform(-0.03, 0.03) * W
        cy = H / 2 + rng.uniform(-0.03, 0.03) * H
        K = intrinsics(f, cx, cy)
        cams.append(Camera(K=K, R=R, t=t, height=H, width=W, view_id=k))
    return cams


# ----------------------------------------------------------------------------------
# rendering and visibility
# ----------------------------------------------------------------------------------
def render_view(scene: Scene, camera: Camera, rng: np.random.Generator,
                background: bool = True, finish: bool = True) -> Tuple[np.ndarray, RenderResult]:
    """Render one view: ``(uint8 RGB image, RenderResult)``."""
    app = scene.appearance
    H, W = camera.height, camera.width
    if background:
        sm = shadow_mask(scene.vertices, scene.faces, app.light_dir, camera.K, camera.R,
                         camera.t, H, W)
        bg = procedural_background(rng, app, camera.K, camera.R, camera.t, H, W, sm)
    else:
        bg = None
    res = render_meshes(scene.vertices, scene.faces, scene.face_rgb, scene.face_instance,
                        camera.K, camera.R, camera.t, H, W, background=bg, near=NEAR)
    if finish:
        img = finish_image(res.image, rng, app.blur_sigma, app.pixel_noise)
    else:
        img = np.clip(np.rint(res.image), 0, 255).astype(np.uint8)
    return img, res


@dataclass
class KeypointLabels:
    """Labels of one instance's keypoints in one view."""
    uv: np.ndarray         # (N,2) true projection
    depth: np.ndarray      # (N,) camera z
    states: np.ndarray     # (N,) 0 outside / 1 occluded / 2 visible
    occluders: np.ndarray  # (N,) occluding instance id, -1 if not occluded


def _inside(uv, z, H, W):
    return (z > NEAR) & (uv[:, 0] >= 0) & (uv[:, 0] < W) & (uv[:, 1] >= 0) & (uv[:, 1] < H)


def compute_visibility(scene: Scene, camera: Camera, depth: np.ndarray,
                       instance_map: np.ndarray, offset_frac: float = 0.01,
                       tol_frac: float = 0.02, neighborhood: bool = True
                       ) -> Dict[int, KeypointLabels]:
    """Depth-map visibility of every instance's keypoints (rule in the module doc)."""
    H, W = camera.height, camera.width
    out = {}
    for inst in scene.instances:
        kp = inst.keypoints_world
        size = inst.size
        uv, z = camera.project(kp)
        p2 = kp + offset_frac * size * inst.normals_world
        uv2, z2 = camera.project(p2)
        inside = _inside(uv, z, H, W)
        states = np.where(inside, STATE_VISIBLE, STATE_OUTSIDE).astype(np.int64)
        occ = np.full(len(kp), -1, dtype=np.int64)
        if inside.any():
            thr = z2 - tol_frac * size
            # the pixel containing p'
            j = np.clip(np.floor(uv2[:, 0]), 0, W - 1).astype(np.int64)
            i = np.clip(np.floor(uv2[:, 1]), 0, H - 1).astype(np.int64)
            center_blocked = depth[i, j] < thr
            blocked = inside & center_blocked
            occluder = np.where(center_blocked, instance_map[i, j], -1)
            if neighborhood:
                # vote of the 2x2 pixel centres around p' (ties: the containing pixel)
                j0 = np.floor(uv2[:, 0] - 0.5).astype(np.int64)
                i0 = np.floor(uv2[:, 1] - 0.5).astype(np.int64)
                votes = np.zeros(len(kp), dtype=np.int64)
                for di in (0, 1):
                    for dj in (0, 1):
                        ii = np.clip(i0 + di, 0, H - 1)
                        jj = np.clip(j0 + dj, 0, W - 1)
                        b = depth[ii, jj] < thr
                        votes += b
                        occluder = np.where((occluder < 0) & b, instance_map[ii, jj], occluder)
                blocked = inside & ((votes >= 3) | ((votes == 2) & center_blocked))
            states[blocked] = STATE_OCCLUDED
            occ[blocked] = occluder[blocked]
        out[inst.instance_id] = KeypointLabels(uv=uv, depth=z, states=states, occluders=occ)
    return out


def raycast_visibility(scene: Scene, camera: Camera, offset_frac: float = 0.01,
                       tol_frac: float = 0.02) -> Dict[int, KeypointLabels]:
    """Exact geometric visibility: the segment from the camera centre to the
    normal-offset keypoint ``p'`` is tested against every scene triangle
    (Moller-Trumbore); hits more than ``tol`` before ``p'`` occlude it (the same
    tolerance as :func:`compute_visibility`, so the two differ only by pixel
    sampling); the nearest hit is the occluder."""
    H, W = camera.height, camera.width
    C = camera.center
    V = scene.vertices
    F = scene.faces
    a, b, c = V[F[:, 0]], V[F[:, 1]], V[F[:, 2]]
    e1, e2 = b - a, c - a
    out = {}
    for inst in scene.instances:
        kp = inst.keypoints_world
        uv, z = camera.project(kp)
        inside = _inside(uv, z, H, W)
        p2 = kp + offset_frac * inst.size * inst.normals_world
        d = p2 - C                                                  # (N,3), t in (0,1)
        pvec = np.cross(d[:, None, :], e2[None])                    # (N,F,3)
        det = (e1[None] * pvec).sum(-1)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        tvec = C[None, None, :] - a[None]
        u = (tvec * pvec).sum(-1) * inv
        qvec = np.cross(tvec, e1[None])
        v = (d[:, None, :] * qvec).sum(-1) * inv
        tt = (e2[None] * qvec).sum(-1) * inv
        tmax = 1 - tol_frac * inst.size / np.linalg.norm(d, axis=1)
        hit = ok & (u >= 0) & (v >= 0) & (u + v <= 1) & (tt > 1e-9) & (tt < tmax[:, None])
        tt = np.where(hit, tt, np.inf)
        first = tt.argmin(1)
        any_hit = np.isfinite(tt[np.arange(len(kp)), first])
        states = np.where(inside, STATE_VISIBLE, STATE_OUTSIDE).astype(np.int64)
        occ = np.full(len(kp), -1, dtype=np.int64)
        blk = inside & any_hit
        states[blk] = STATE_OCCLUDED
        occ[blk] = scene.face_instance[first[blk]]
        out[inst.instance_id] = KeypointLabels(uv=uv, depth=z, states=states, occluders=occ)
    return out

"""Rigid object categories of kplink-synth, modelled on Pascal3D+.

Every category has Pascal3D+ keypoint names, a skeleton of links, left/right flip
pairs and a parametric 3D model assembled from primitives (boxes/hexahedra,
lofts = generalised cylinders, rings, beams). A handful of continuous shape
parameters are sampled around category means, so the keypoints really vary
between instances.

Object frame: z up, the object stands on z = 0, x points to the object's front,
y to the object's left (right-handed). Units are metres. Keypoints lie on the
mesh surface; every keypoint also carries an outward direction (used by the
visibility test to step off the surface, see ``scene.py``).

Naming conventions where Pascal3D+ is ambiguous (documented in
``docs/synth_schema.md``): "left"/"right" are the object's own left (+y) and right
(-y); for chair legs and dining tables "upper" is the back/far side (-x) and
"lower" the front/near side (+x).
"""
import colorsys
import functools
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np

__all__ = ['CategorySpec', 'ObjectModel', 'ParamSpec', 'MeshBuilder', 'CATEGORIES',
           'get_category', 'category_names', 'derive_flip_pairs']


# ----------------------------------------------------------------------------------
# data classes
# ----------------------------------------------------------------------------------
@dataclass
class ObjectModel:
    """One object instance in its object frame (metres)."""
    keypoints: np.ndarray          # (N,3) float32
    keypoint_normals: np.ndarray   # (N,3) float32 unit outward directions
    vertices: np.ndarray           # (V,3) float32
    faces: np.ndarray              # (F,3) int32, counter-clockwise seen from outside
    face_colors: np.ndarray        # (F,3) uint8 RGB
    shape_params: Dict[str, float] = field(default_factory=dict)

    @property
    def extent(self) -> np.ndarray:
        """Axis-aligned size (dx, dy, dz) of the mesh."""
        return self.vertices.max(0) - self.vertices.min(0)

    @property
    def size(self) -> float:
        """Largest axis-aligned extent of the mesh."""
        return float(self.extent.max())


@dataclass(frozen=True)
class ParamSpec:
    """A shape parameter: truncated normal ``mean +- std`` clipped to ``[lo, hi]``."""
    name: str
    mean: float
    std: float
    lo: float
    hi: float

    def sample(self, rng: Optional[np.random.Generator]) -> float:
        if rng is None or self.std == 0:
            return float(self.mean)
        z = min(max(float(rng.standard_normal()), -2.0), 2.0)
        return min(max(self.mean + self.std * z, self.lo), self.hi)


@dataclass(frozen=True)
class CategorySpec:
    """A category: names, links, flip pairs and a parametric model."""
    name: str
    id: int
    keypoint_names: Tuple[str, ...]
    skeleton: Tuple[Tuple[int, int], ...]
    flip_pairs: Tuple[Tuple[int, int], ...]
    params: Tuple[ParamSpec, ...] = field(repr=False, default=())
    builder: Callable = field(repr=False, compare=False, default=None)

    @property
    def num_keypoints(self) -> int:
        return len(self.keypoint_names)

    def mean_params(self) -> Dict[str, float]:
        return {p.name: float(p.mean) for p in self.params}

    def sample_params(self, rng: Optional[np.random.Generator]) -> Dict[str, float]:
        return {p.name: p.sample(rng) for p in self.params}

    def sample_model(self, rng: Optional[np.random.Generator] = None) -> ObjectModel:
        """A random instance (``rng=None``: the mean shape with mean colours)."""
        params = self.sample_params(rng)
        return self.build(params, rng)

    def build(self, params: Dict[str, float], rng: Optional[np.random.Generator] = None
              ) -> ObjectModel:
        """Build the model for explicit shape parameters (colours from ``rng``)."""
        mb = MeshBuilder()
        kps = self.builder(mb, dict(params), _Colors(rng))
        missing = [n for n in self.keypoint_names if n not in kps]
        if missing:
            raise RuntimeError(f'{self.name} builder misses keypoints {missing}')
        pts = np.array([kps[n][0] for n in self.keypoint_names], dtype=np.float64)
        nrm = np.array([kps[n][1] for n in self.keypoint_names], dtype=np.float64)
        nrm /= np.linalg.norm(nrm, axis=1, keepdims=True)
        v, f, c = mb.arrays()
        return ObjectModel(keypoints=pts.astype(np.float32),
                           keypoint_normals=nrm.astype(np.float32), vertices=v, faces=f,
                           face_colors=c, shape_params={k: float(x) for k, x in params.items()})

    def mean_model(self) -> ObjectModel:
        return _mean_model(self.name)

    def canonical_keypoints(self) -> np.ndarray:
        """Mean-shape keypoints, centred on their bounding box and divided by its
        largest side, so they lie in ``[-0.5, 0.5]`` (StarMap-style canonical
        coordinates). ``(N,3)`` float32, object-frame axes."""
        return _canonical(self.name).copy()

    @property
    def typical_size(self) -> float:
        """Largest extent (m) of the mean shape."""
        return _mean_model(self.name).size


@functools.lru_cache(maxsize=None)
def _mean_model(name: str) -> ObjectModel:
    return get_category(name).sample_model(None)


@functools.lru_cache(maxsize=None)
def _canonical(name: str) -> np.ndarray:
    kp = _mean_model(name).keypoints.astype(np.float64)
    lo, hi = kp.min(0), kp.max(0)
    return ((kp - (lo + hi) / 2) / (hi - lo).max()).astype(np.float32)


# ----------------------------------------------------------------------------------
# colours
# ----------------------------------------------------------------------------------
class _Colors:
    """Per-instance colour sampling; with ``rng=None`` returns the base colours."""

    def __init__(self, rng: Optional[np.random.Generator]):
        self.rng = rng

    def hsv(self, h: float, s: float, v: float, dh: float = 0.03, ds: float = 0.1,
            dv: float = 0.1) -> Tuple[int, int, int]:
        if self.rng is not None:
            h = h + self.rng.uniform(-dh, dh)
            s = s + self.rng.uniform(-ds, ds)
            v = v + self.rng.uniform(-dv, dv)
        r, g, b = colorsys.hsv_to_rgb(h % 1.0, min(max(float(s), 0.0), 1.0),
                                      min(max(float(v), 0.0), 1.0))
        return int(round(255 * r)), int(round(255 * g)), int(round(255 * b))

    def paint(self, h: float = 0.0, s: float = 0.7, v: float = 0.7) -> Tuple[int, int, int]:
        """Any hue (car paint, boat hull...)."""
        if self.rng is None:
            return self.hsv(h, s, v, 0, 0, 0)
        if self.rng.random() < 0.25:  # white / grey / black
            return self.hsv(0, 0.05, self.rng.uniform(0.15, 0.95), 0, 0.05, 0)
        return self.hsv(self.rng.random(), self.rng.uniform(0.4, 0.9),
                        self.rng.uniform(0.45, 0.95), 0, 0, 0)

    def choice(self, options: Sequence[Tuple[float, float, float]]) -> Tuple[int, int, int]:
        i = 0 if self.rng is None else int(self.rng.integers(len(options)))
        return self.hsv(*options[i])


def _shade(color: Tuple[int, int, int], f: float) -> Tuple[int, int, int]:
    return tuple(int(np.clip(round(c * f), 0, 255)) for c in color)


# ----------------------------------------------------------------------------------
# mesh primitives
# ----------------------------------------------------------------------------------
# hexahedron corners: index = 4 * top + k, k: 0 (-x,-y), 1 (+x,-y), 2 (+x,+y), 3 (-x,+y)
_HEXA_QUADS = np.array([
    [0, 1, 2, 3],  # bottom
    [4, 5, 6, 7],  # top
    [0, 3, 7, 4],  # back  (-x)
    [1, 2, 6, 5],  # front (+x)
    [0, 1, 5, 4],  # right (-y)
    [3, 2, 6, 7],  # left  (+y)
])
HEXA_FACES = ('bottom', 'top', 'back', 'front', 'right', 'left')


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float64)
    return v / np.linalg.norm(v)


def _perp_basis(axis) -> Tuple[np.ndarray, np.ndarray]:
    a = _unit(axis)
    helper = np.array([0.0, 0.0, 1.0]) if abs(a[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    u = _unit(np.cross(a, helper))
    w = np.cross(a, u)
    return u, w


class MeshBuilder:
    """Accumulates closed primitives into one triangle mesh with outward winding."""

    def __init__(self):
        self._v, self._f, self._c, self._ref, self._is_pt = [], [], [], [], []
        self._n = 0

    def add(self, verts, faces, colors, interior=None, ref_dirs=None) -> None:
        """Add triangles; each is (re-)wound so its normal points away from ``interior``
        (a point) or along ``ref_dirs`` (per face). Winding is fixed and degenerate
        triangles are dropped in :meth:`arrays` (one vectorised pass)."""
        verts = np.asarray(verts, dtype=np.float64).reshape(-1, 3)
        faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
        nf = len(faces)
        self._v.append(verts)
        self._f.append(faces + self._n)
        self._c.append(np.broadcast_to(np.asarray(colors, dtype=np.float64).reshape(-1, 3),
                                       (nf, 3)))
        is_pt = ref_dirs is None
        ref = interior if is_pt else ref_dirs
        self._ref.append(np.broadcast_to(np.asarray(ref, dtype=np.float64).reshape(-1, 3),
                                         (nf, 3)))
        self._is_pt.append(np.full(nf, is_pt))
        self._n += len(verts)

    def hexa(self, corners, colors) -> None:
        """Convex hexahedron from 8 corners (see ``_HEXA_QUADS`` order). ``colors`` is
        one RGB or a dict {face name: RGB} with a 'default'."""
        corners = np.asarray(corners, dtype=np.float64).reshape(8, 3)
        if isinstance(colors, dict):
            cols = [colors.get(n, colors.get('default')) for n in HEXA_FACES]
        else:
            cols = [colors] * 6
        q = _HEXA_QUADS
        faces = np.concatenate([q[:, [0, 1, 2]], q[:, [0, 2, 3]]])
        fc = np.concatenate([cols, cols])
        self.add(corners, faces, fc, interior=corners.mean(0))

    def box(self, x0, x1, y0, y1, z0, z1, colors) -> None:
        xs, ys = [x0, x1, x1, x0], [y0, y0, y1, y1]
        c = [(xs[k], ys[k], z) for z in (z0, z1) for k in range(4)]
        self.hexa(c, colors)

    def beam(self, p0, p1, width, height, color, up=(0.0, 0.0, 1.0)) -> None:
        """Box of cross-section ``width x height`` around the segment p0 -> p1."""
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        d = _unit(p1 - p0)
        s = np.cross(d, np.asarray(up, float))
        if np.linalg.norm(s) < 1e-6:
            s = np.cross(d, np.array([1.0, 0.0, 0.0]))
        s = _unit(s)
        u = np.cross(s, d)
        corners = []
        for h in (-height / 2, height / 2):
            for a, b in ((p0, -1), (p1, -1), (p1, 1), (p0, 1)):
                corners.append(a + s * b * width / 2 + u * h)
        self.hexa(corners, color)

    def loft(self, sections, side_colors, cap_colors=None, caps=(True, True)) -> None:
        """Generalised cylinder through ``S`` closed sections of ``n`` points each,
        capped by triangle fans (caps of zero area are skipped; coincident points
        are welded, so sections may degenerate to lines or points).
        ``side_colors``: one RGB or ``(S-1, n, 3)``; ``cap_colors``: (start, end)."""
        sec = np.asarray(sections, dtype=np.float64)
        S, n, _ = sec.shape
        i = np.arange(S - 1)[:, None]
        j = np.arange(n)[None, :]
        a = i * n + j
        b = i * n + (j + 1) % n
        c = (i + 1) * n + (j + 1) % n
        d = (i + 1) * n + j
        faces = [np.stack([a, b, c], -1).reshape(-1, 3), np.stack([a, c, d], -1).reshape(-1, 3)]
        cent = sec.mean(1)
        axis_pt = np.repeat((cent[:-1] + cent[1:]) / 2, n, axis=0)     # per side quad
        flat = sec.reshape(-1, 3)
        tri_c = [(flat[f[:, 0]] + flat[f[:, 1]] + flat[f[:, 2]]) / 3 for f in faces]
        refs = [tri_c[0] - axis_pt, tri_c[1] - axis_pt]
        sc = np.asarray(side_colors, dtype=np.float64)
        sc = np.broadcast_to(sc, (S - 1, n, 3)).reshape(-1, 3) if sc.ndim > 1 else \
            np.broadcast_to(sc, ((S - 1) * n, 3))
        cols = [sc, sc]
        if cap_colors is None:
            cap_colors = (side_colors if np.ndim(side_colors) == 1 else (128, 128, 128),) * 2
        verts = [flat]
        nv = S * n
        for k, (idx, nxt) in enumerate(((0, 1), (S - 1, S - 2))):
            ring = sec[idx]
            area = 0.5 * np.linalg.norm(np.cross(ring, np.roll(ring, -1, axis=0)).sum(0))
            scale = np.ptp(ring, axis=0).max()
            if not caps[k] or area <= 1e-9 * max(scale, 1e-9) ** 2:
                continue
            verts.append(cent[idx][None])
            faces.append(np.stack([np.full(n, nv), idx * n + np.arange(n),
                                   idx * n + (np.arange(n) + 1) % n], -1))
            refs.append(np.broadcast_to(cent[idx] - cent[nxt], (n, 3)))
            cols.append(np.broadcast_to(np.asarray(cap_colors[k], dtype=np.float64), (n, 3)))
            nv += 1
        verts = np.concatenate(verts)
        faces = np.concatenate(faces)
        # weld coincident points (degenerate sections) so the mesh stays closed
        uniq, inv = np.unique(np.round(verts, 9), axis=0, return_inverse=True)
        if len(uniq) < len(verts):
            verts, faces = uniq, inv.reshape(-1)[faces]
        self.add(verts, faces, np.concatenate(cols), ref_dirs=np.concatenate(refs))

    def cylinder(self, p0, p1, radius, color, n=16, cap_colors=None, radius1=None) -> None:
        """(Truncated-cone) cylinder along p0 -> p1; circle point 0 along the first
        perpendicular of :func:`_perp_basis`."""
        p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
        u, w = _perp_basis(p1 - p0)
        th = 2 * np.pi * np.arange(n) / n
        ring = np.cos(th)[:, None] * u + np.sin(th)[:, None] * w
        r1 = radius if radius1 is None else radius1
        self.loft([p0 + radius * ring, p1 + r1 * ring], color, cap_colors)

    def ring(self, center, axis, r_out, r_in, width, color, n=20) -> None:
        """Annulus (tyre) around ``axis`` through ``center``."""
        center = np.asarray(center, float)
        ax = _unit(axis)
        u, w = _perp_basis(ax)
        th = 2 * np.pi * np.arange(n) / n
        radial = np.cos(th)[:, None] * u + np.sin(th)[:, None] * w
        h = ax * width / 2
        rings = [center + r_out * radial + h, center + r_out * radial - h,
                 center + r_in * radial - h, center + r_in * radial + h]
        verts = np.concatenate(rings)
        j = np.arange(n)
        jn = (j + 1) % n
        faces, refs = [], []
        # consecutive ring pairs: (outer+, outer-) outward, (outer-, inner-) -axis,
        # (inner-, inner+) inward, (inner+, outer+) +axis
        dirs = [lambda k: radial[k], lambda k: np.broadcast_to(-ax, (len(k), 3)),
                lambda k: -radial[k], lambda k: np.broadcast_to(ax, (len(k), 3))]
        for r in range(4):
            r2 = (r + 1) % 4
            a, b, c, d = r * n + j, r * n + jn, r2 * n + jn, r2 * n + j
            faces += [np.stack([a, b, c], -1), np.stack([a, c, d], -1)]
            refs += [dirs[r](j), dirs[r](j)]
        self.add(verts, np.concatenate(faces), color, ref_dirs=np.concatenate(refs))

    def arrays(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(vertices float32, faces int32 outward-wound, face colours uint8)``."""
        v = np.concatenate(self._v)
        f = np.concatenate(self._f)
        c = np.concatenate(self._c)
        ref = np.concatenate(self._ref)
        is_pt = np.concatenate(self._is_pt)
        a, b, d = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
        e1, e2 = b - a, d - a
        nrm = np.stack([e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1],
                        e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2],
                        e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]], -1)
        cen = (a + b + d) / 3
        ref = np.where(is_pt[:, None], cen - ref, ref)
        flip = (nrm * ref).sum(1) < 0
        f[flip] = f[flip][:, [0, 2, 1]]
        keep = (nrm * nrm).sum(1) > 1e-20
        return (v.astype(np.float32), f[keep].astype(np.int32),
                np.clip(np.round(c[keep]), 0, 255).astype(np.uint8))


def _circle(center, radius, n, axis='z', phase=0.0) -> np.ndarray:
    """``n`` points of a circle; point 0 at angle ``phase``. axis 'z': in the xy
    plane starting at +x; 'x': in the yz plane starting at +y; 'y': in the zx plane
    starting at +z... (angles counter-clockwise about the axis)."""
    th = phase + 2 * np.pi * np.arange(n) / n
    c, s = np.cos(th), np.sin(th)
    cx, cy, cz = center
    ry, rz = (radius, radius) if np.ndim(radius) == 0 else radius
    if axis == 'z':
        return np.stack([cx + ry * c, cy + rz * s, np.full(n, cz)], -1)
    if axis == 'x':
        return np.stack([np.full(n, cx), cy + ry * c, cz + rz * s], -1)
    raise ValueError(axis)


# ----------------------------------------------------------------------------------
# category builders: each fills the MeshBuilder and returns {name: (point, outward)}
# ----------------------------------------------------------------------------------
TIRE = (0.0, 0.0, 0.13)
RIM = (0.0, 0.0, 0.62)
GLASS = (0.58, 0.35, 0.25)


def _wheel(mb: MeshBuilder, x, y_out, r, width, side, col) -> np.ndarray:
    """Car/bus wheel along y with a hub cap; returns the hub-cap outer centre."""
    y_in = y_out - side * width
    mb.cylinder((x, y_in, r), (x, y_out, r), r, col.hsv(*TIRE, 0, 0, 0.04), n=16)
    cap = y_out + side * 0.015
    mb.cylinder((x, y_out - side * 0.01, r), (x, cap, r), 0.55 * r, col.hsv(*RIM, 0, 0, 0.15),
                n=12)
    return np.array([x, cap, r])


def _build_car(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    L, W, c, hb, hc, r = p['length'], p['width'], p['clearance'], p['body_height'], \
        p['cabin_height'], p['wheel_radius']
    paint = col.paint(0.0, 0.75, 0.7)
    glass = col.hsv(*GLASS, 0.02, 0.1, 0.08)
    zt = c + hb
    # body: hood top slightly lower at the very front (wedge)
    front_drop = 0.12 * hb
    body = [(-L / 2, -W / 2, c), (L / 2, -W / 2, c), (L / 2, W / 2, c), (-L / 2, W / 2, c),
            (-L / 2, -W / 2, zt), (L / 2, -W / 2, zt - front_drop),
            (L / 2, W / 2, zt - front_drop), (-L / 2, W / 2, zt)]
    mb.hexa(body, {'default': paint, 'bottom': _shade(paint, 0.4)})
    # cabin: trapezoid prism on the body
    cb0 = -L / 2 + p['trunk_length']
    cb1 = L / 2 - p['hood_length']
    ct0, ct1 = cb0 + p['rear_rake'], cb1 - p['windshield_rake']
    wb, wt = 0.47 * W, 0.40 * W
    zc = zt + hc
    # the body top is a plane z = zt - front_drop * (x + L/2) / L
    zb = lambda x: zt - front_drop * (x + L / 2) / L  # noqa: E731
    cabin = [(cb0, -wb, zb(cb0) - 0.01), (cb1, -wb, zb(cb1) - 0.01),
             (cb1, wb, zb(cb1) - 0.01), (cb0, wb, zb(cb0) - 0.01),
             (ct0, -wt, zc), (ct1, -wt, zc), (ct1, wt, zc), (ct0, wt, zc)]
    mb.hexa(cabin, {'default': glass, 'top': paint, 'bottom': paint})
    kp = {}
    # wheels
    xf, xb = L / 2 - p['front_overhang'], -L / 2 + p['rear_overhang']
    for side, sname in ((1, 'left'), (-1, 'right')):
        y_out = side * (W / 2 + 0.03)
        kp[f'{sname}_front_wheel'] = (_wheel(mb, xf, y_out, r, 0.24, side, col), (0, side, 0))
        kp[f'{sname}_back_wheel'] = (_wheel(mb, xb, y_out, r, 0.24, side, col), (0, side, 0))
    # lights: thin plates on the front / back faces
    lz = zt - front_drop - 0.22 * hb
    lw, lh = 0.2 * W, 0.12 * hb
    head = col.hsv(0.15, 0.15, 0.95, 0.02, 0.1, 0.05)
    tail = col.hsv(0.0, 0.85, 0.75, 0.02, 0.1, 0.1)
    for side, sname in ((1, 'left'), (-1, 'right')):
        yc = side * (W / 2 - 0.06 - lw / 2)
        mb.box(L / 2 - 0.01, L / 2 + 0.02, yc - lw / 2, yc + lw / 2, lz - lh / 2, lz + lh / 2, head)
        kp[f'{sname}_front_light'] = (np.array([L / 2 + 0.02, yc, lz]), (1, 0, 0))
        tz = zt - 0.2 * hb
        mb.box(-L / 2 - 0.02, -L / 2 + 0.01, yc - lw / 2, yc + lw / 2, tz - lh / 2, tz + lh / 2,
               tail)
        # trunk: back upper corner of the body
        kp[f'{sname}_back_trunk'] = (np.array([-L / 2, side * W / 2, zt]), (-1, side, 1))
        kp[f'upper_{sname}_windshield'] = (np.array([ct1, side * wt, zc]), (1, side, 1))
        kp[f'upper_{sname}_rearwindow'] = (np.array([ct0, side * wt, zc]), (-1, side, 1))
    return kp


def _build_bus(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    L, W, H, c, r = p['length'], p['width'], p['height'], p['clearance'], p['wheel_radius']
    paint = col.choice([(0.14, 0.85, 0.95), (0.0, 0.05, 0.92), (0.0, 0.8, 0.8),
                        (0.6, 0.75, 0.75), (0.33, 0.6, 0.6)])
    glass = col.hsv(*GLASS, 0.02, 0.1, 0.08)
    mb.box(-L / 2, L / 2, -W / 2, W / 2, c, c + H,
           {'default': paint, 'bottom': _shade(paint, 0.4), 'top': _shade(paint, 0.9)})
    # window band (slightly proud of the body) and windscreen
    z0, z1 = c + p['window_bottom'] * H, c + 0.9 * H
    e = 0.015
    mb.box(-L / 2 + 0.4, L / 2 - 0.25, -W / 2 - e, W / 2 + e, z0, z1, glass)
    mb.box(L / 2 - 0.25, L / 2 + e, -W / 2 + 0.12, W / 2 - 0.12, c + 0.35 * H, z1, glass)
    kp = {}
    xf, xb = L / 2 - p['front_overhang'], -L / 2 + p['rear_overhang']
    for side, sname in ((1, 'left'), (-1, 'right')):
        y_out = side * (W / 2 + 0.03)
        kp[f'{sname}_front_wheel'] = (_wheel(mb, xf, y_out, r, 0.3, side, col), (0, side, 0))
        kp[f'{sname}_back_wheel'] = (_wheel(mb, xb, y_out, r, 0.3, side, col), (0, side, 0))
        for fx, fname in ((1, 'front'), (-1, 'back')):
            kp[f'body_{fname}_{sname}_lower'] = (np.array([fx * L / 2, side * W / 2, c]),
                                                 (fx, side, -0.3))
            kp[f'body_{fname}_{sname}_upper'] = (np.array([fx * L / 2, side * W / 2, c + H]),
                                                 (fx, side, 1))
    return kp


def _build_chair(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    w, d, hs, ts = p['seat_width'], p['seat_depth'], p['seat_height'], p['seat_thickness']
    bh, bt, lt, lean = p['back_height'], 0.045, p['leg_thickness'], p['back_lean']
    wood = col.choice([(0.08, 0.6, 0.55), (0.07, 0.5, 0.35), (0.1, 0.25, 0.8),
                       (0.0, 0.0, 0.2), (0.6, 0.3, 0.6)])
    cushion = col.choice([(0.08, 0.6, 0.55), (0.0, 0.7, 0.6), (0.6, 0.6, 0.6),
                          (0.3, 0.5, 0.5), (0.1, 0.2, 0.85)])
    mb.box(-d / 2, d / 2, -w / 2, w / 2, hs - ts, hs, {'default': wood, 'top': cushion})
    zl = hs - ts
    for fx in (-1, 1):
        x0 = d / 2 - lt if fx > 0 else -d / 2
        for side in (-1, 1):
            y0 = w / 2 - lt if side > 0 else -w / 2
            mb.box(x0, x0 + lt, y0, y0 + lt, 0.0, zl, _shade(wood, 0.9))
    # back panel, leaning backwards by `lean` at the top
    x0, x1 = -d / 2, -d / 2 + bt
    back = [(x0, -w / 2, hs), (x1, -w / 2, hs), (x1, w / 2, hs), (x0, w / 2, hs),
            (x0 - lean, -w / 2, hs + bh), (x1 - lean, -w / 2, hs + bh),
            (x1 - lean, w / 2, hs + bh), (x0 - lean, w / 2, hs + bh)]
    mb.hexa(back, {'default': wood, 'front': cushion})
    kp = {}
    for side, sname in ((1, 'left'), (-1, 'right')):
        y = side * w / 2
        kp[f'back_upper_{sname}'] = (np.array([x1 - lean, y, hs + bh]), (1, side, 1))
        kp[f'seat_upper_{sname}'] = (np.array([x1, y, hs]), (1, side, 1))
        kp[f'seat_lower_{sname}'] = (np.array([d / 2, y, hs]), (1, side, 1))
        kp[f'leg_upper_{sname}'] = (np.array([-d / 2, y, 0.0]), (-1, side, 0))
        kp[f'leg_lower_{sname}'] = (np.array([d / 2, y, 0.0]), (1, side, 0))
    return kp


def _build_sofa(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    W, D, hs, hb, ha = p['width'], p['depth'], p['seat_height'], p['back_height'], p['arm_height']
    aw, bt = p['arm_width'], p['back_thickness']
    fabric = col.choice([(0.08, 0.5, 0.45), (0.6, 0.45, 0.45), (0.0, 0.6, 0.5),
                         (0.3, 0.3, 0.45), (0.1, 0.15, 0.75), (0.0, 0.0, 0.3)])
    light = _shade(fabric, 1.25)
    # seat block between the arms
    mb.box(-D / 2 + bt - 0.01, D / 2, -W / 2 + aw - 0.01, W / 2 - aw + 0.01, 0.0, hs,
           {'default': fabric, 'top': light})
    # back (full width) and arms
    mb.box(-D / 2, -D / 2 + bt, -W / 2, W / 2, 0.0, hb, {'default': fabric, 'front': light})
    for side in (-1, 1):
        y0, y1 = (W / 2 - aw, W / 2) if side > 0 else (-W / 2, -W / 2 + aw)
        mb.box(-D / 2 + bt - 0.01, D / 2, y0, y1, 0.0, ha, _shade(fabric, 0.92))
    kp = {}
    for side, sname in ((1, 'left'), (-1, 'right')):
        kp[f'front_bottom_{sname}'] = (np.array([D / 2, side * W / 2, 0.0]), (1, side, 0))
        kp[f'seat_bottom_{sname}'] = (np.array([D / 2, side * (W / 2 - aw), hs]),
                                      (1, -side, 1))
        kp[f'{sname}_bottom_back'] = (np.array([-D / 2, side * W / 2, 0.0]), (-1, side, 0))
        kp[f'top_{sname}_corner'] = (np.array([-D / 2 + bt, side * W / 2, hb]), (1, side, 1))
        kp[f'seat_top_{sname}'] = (np.array([-D / 2 + bt, side * (W / 2 - aw), hs]),
                                   (1, -side, 1))
    return kp


def _build_diningtable(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    L, D, H, tt, lt, ins = p['length'], p['depth'], p['height'], p['top_thickness'], \
        p['leg_thickness'], p['leg_inset']
    wood = col.choice([(0.08, 0.65, 0.6), (0.07, 0.55, 0.4), (0.1, 0.3, 0.85),
                       (0.0, 0.0, 0.25), (0.09, 0.5, 0.75)])
    mb.box(-D / 2, D / 2, -L / 2, L / 2, H - tt, H, {'default': _shade(wood, 0.85),
                                                     'top': wood})
    # A table slab with four equal legs looks the same after a 180-degree turn, so
    # without a cue its upper/lower and left/right names could not be read from the
    # image (generator 1.0). Two front (+x) cues break the symmetry: a drawer box
    # under the front half (seen from low cameras) and a runner along the front edge
    # of the top (seen from above, where the slab hides the drawer). Their colour
    # contrasts with the wood and is derived from it, not drawn from the rng, so every
    # other instance keeps its random draws.
    accent = (60, 40, 25) if sum(wood) > 3 * 110 else (235, 222, 196)
    ya = L / 2 - ins - lt - 0.01
    mb.box(D / 2 - ins - 0.4 * D, D / 2 - ins, -ya, ya, H - tt - 0.14, H - tt - 0.001,
           {'default': accent, 'back': _shade(wood, 0.75)})
    mb.box(D / 2 - 0.06 - 0.2 * D, D / 2 - 0.06, -0.3 * L, 0.3 * L, H, H + 0.006, accent)
    kp = {}
    for fx, fname in ((-1, 'upper'), (1, 'lower')):
        for side, sname in ((1, 'left'), (-1, 'right')):
            xo, yo = fx * (D / 2 - ins), side * (L / 2 - ins)
            xs, ys = sorted([xo, xo - fx * lt]), sorted([yo, yo - side * lt])
            mb.box(xs[0], xs[1], ys[0], ys[1], 0.0, H - tt, _shade(wood, 0.75))
            kp[f'leg_{fname}_{sname}'] = (np.array([xo, yo, 0.0]), (fx, side, 0))
            kp[f'top_{fname}_{sname}'] = (np.array([fx * D / 2, side * L / 2, H]), (fx, side, 1))
    kp['top_up'] = (np.array([-D / 2, 0.0, H]), (-1, 0, 1))
    kp['top_down'] = (np.array([D / 2, 0.0, H]), (1, 0, 1))
    kp['top_left'] = (np.array([0.0, L / 2, H]), (0, 1, 1))
    kp['top_right'] = (np.array([0.0, -L / 2, H]), (0, -1, 1))
    return kp


def _build_tvmonitor(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    W, H, dd, bs, nh = p['width'], p['height'], p['depth'], p['back_scale'], p['stand_height']
    case = col.choice([(0.0, 0.0, 0.12), (0.0, 0.0, 0.75), (0.6, 0.1, 0.35), (0.0, 0.0, 0.5)])
    screen = col.hsv(0.6, 0.5, 0.25, 0.08, 0.3, 0.15)
    zb = nh + 0.02
    zc = zb + H / 2
    xf, xbk = dd / 2, -dd / 2
    hb, wb = bs * H / 2, bs * W / 2
    body = [(xbk, -wb, zc - hb), (xf, -W / 2, zb), (xf, W / 2, zb), (xbk, wb, zc - hb),
            (xbk, -wb, zc + hb), (xf, -W / 2, zb + H), (xf, W / 2, zb + H), (xbk, wb, zc + hb)]
    mb.hexa(body, case)
    bz = 0.08 * min(W, H)
    mb.box(xf - 0.005, xf + 0.004, -W / 2 + bz, W / 2 - bz, zb + bz, zb + H - bz, screen)
    # stand: neck + foot
    mb.box(-dd / 2 - 0.02, -dd / 2 + 0.03, -0.03, 0.03, 0.015, zc - hb + 0.01, _shade(case, 0.9))
    mb.box(-0.12 - dd / 2, 0.1, -0.11, 0.11, 0.0, 0.02, _shade(case, 0.9))
    kp = {}
    for side, sname in ((1, 'left'), (-1, 'right')):
        kp[f'front_bottom_{sname}'] = (np.array([xf, side * W / 2, zb]), (1, side, -1))
        kp[f'front_top_{sname}'] = (np.array([xf, side * W / 2, zb + H]), (1, side, 1))
        kp[f'back_bottom_{sname}'] = (np.array([xbk, side * wb, zc - hb]), (-1, side, -1))
        kp[f'back_top_{sname}'] = (np.array([xbk, side * wb, zc + hb]), (-1, side, 1))
    return kp


def _build_bottle(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    Ht, r, fb, rn = p['height'], p['radius'], p['body_fraction'], p['neck_radius']
    n = 16
    hb = fb * Ht
    hs = hb + p['shoulder_fraction'] * Ht
    glass = col.choice([(0.33, 0.6, 0.45), (0.08, 0.8, 0.45), (0.55, 0.25, 0.8),
                        (0.6, 0.5, 0.6)])
    label = col.paint(0.0, 0.2, 0.95)
    zs = [0.0, 0.25 * hb, 0.8 * hb, hb, hs, Ht - 0.02, Ht]
    rs = [r, r, r, r, rn, rn, rn * 1.15]
    sections = [_circle((0, 0, z), rr, n, 'z') for z, rr in zip(zs, rs)]
    colors = np.tile(np.asarray(glass, float), (len(zs) - 1, n, 1))
    front = np.cos(2 * np.pi * (np.arange(n) + 0.5) / n) > 0.1     # label on the front half
    colors[1, front] = label
    colors[5, :] = _shade(glass, 0.6)
    mb.loft(sections, colors, cap_colors=(_shade(glass, 0.7), _shade(glass, 0.5)))
    return {
        'mouth': (np.array([0.0, 0.0, Ht]), (0, 0, 1)),
        'body': (np.array([r, 0.0, hb]), (1, 0, 0.4)),
        'body_left': (np.array([0.0, r, hb]), (0, 1, 0.4)),
        'body_right': (np.array([0.0, -r, hb]), (0, -1, 0.4)),
        'bottom': (np.array([r, 0.0, 0.0]), (1, 0, 0)),
        'bottom_left': (np.array([0.0, r, 0.0]), (0, 1, 0)),
        'bottom_right': (np.array([0.0, -r, 0.0]), (0, -1, 0)),
    }


def _build_boat(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    L, B, Dp, rake = p['length'], p['beam'], p['depth'], p['bow_rake']
    hull = col.paint(0.6, 0.7, 0.6)
    deck = col.hsv(0.09, 0.45, 0.75, 0.02, 0.1, 0.1)
    # stations from stern (x=-L/2) to bow; (x, half width at deck, keel z, lower x offset)
    stations = [(-L / 2, 0.8 * B / 2, 0.12 * Dp), (-L / 4, B / 2, 0.0), (0.0, B / 2, 0.0),
                (L / 4, 0.75 * B / 2, 0.0)]
    sections = []
    for x, hw, zk in stations:
        sections.append([(x, hw, Dp), (x, 0.85 * hw, zk + 0.35 * Dp), (x, 0.0, zk),
                         (x, -0.85 * hw, zk + 0.35 * Dp), (x, -hw, Dp)])
    xb, xk = L / 2, L / 2 - rake * Dp
    zkb = 0.3 * Dp
    sw_bow = 0.015 * B     # narrow stem face
    xm, zm = 0.5 * (xb + xk), 0.5 * (Dp + zkb) + 0.1 * Dp
    sections.append([(xb, sw_bow, Dp), (xm, 0.7 * sw_bow, zm), (xk, 0.0, zkb),
                     (xm, -0.7 * sw_bow, zm), (xb, -sw_bow, Dp)])
    sections = np.asarray(sections, dtype=np.float64)
    S = len(sections)
    colors = np.tile(np.asarray(hull, float), (S - 1, 5, 1))
    colors[:, 4] = deck   # the segment from deck-right back to deck-left is the deck
    colors[:, 2:4] = _shade(hull, 0.85)
    mb.loft(sections, colors, cap_colors=(_shade(hull, 0.9), hull))
    # cabin
    cl, chh = p['cabin_length'], p['cabin_height']
    white = col.hsv(0.0, 0.03, 0.92, 0, 0.03, 0.05)
    cx = -0.1 * L
    mb.box(cx - cl / 2, cx + cl / 2, -0.32 * B, 0.32 * B, Dp - 0.02, Dp + chh,
           {'default': white, 'front': col.hsv(*GLASS, 0.02, 0.1, 0.08)})
    hx, hw = stations[3][0], stations[3][1]
    sw = stations[0][1]
    kp = {
        'head': (np.array([xb, 0.0, Dp]), (1, 0, 0.5)),
        'head_down': (np.array([xk, 0.0, zkb]), (1, 0, -1)),
        'tail': (np.array([-L / 2, 0.0, Dp]), (-1, 0, 1)),
    }
    for side, sname in ((1, 'left'), (-1, 'right')):
        kp[f'head_{sname}'] = (np.array([hx, side * hw, Dp]), (0.3, side, 0.7))
        kp[f'tail_{sname}'] = (np.array([-L / 2, side * sw, Dp]), (-1, side, 1))
    return kp


def _build_aeroplane(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    Lf, rf, S, gh = p['fuselage_length'], p['fuselage_radius'], p['wingspan'], p['gear_height']
    fh, es = p['fin_height'], p['elevator_span']
    body = col.hsv(0.0, 0.03, 0.9, 0, 0.03, 0.08)
    accent = col.paint(0.6, 0.8, 0.6)
    zc = gh + rf
    n = 12
    # fuselage stations: (x, radius, centre z)
    st = [(Lf / 2, 0.12 * rf, zc - 0.25 * rf), (Lf / 2 - 0.07 * Lf, 0.75 * rf, zc - 0.1 * rf),
          (Lf / 2 - 0.18 * Lf, rf, zc), (-Lf / 2 + 0.3 * Lf, rf, zc),
          (-Lf / 2, 0.22 * rf, zc + 0.55 * rf)]
    sections = [_circle((x, 0.0, z), r, n, 'x') for x, r, z in st]
    colors = np.tile(np.asarray(body, float), (len(st) - 1, n, 1))
    top = np.sin(2 * np.pi * (np.arange(n) + 0.5) / n) > 0.3
    colors[1, top] = col.hsv(*GLASS, 0.02, 0.1, 0.05)             # cockpit windows
    belly = np.sin(2 * np.pi * (np.arange(n) + 0.5) / n) < -0.5
    colors[2, belly] = accent
    mb.loft(sections, colors, cap_colors=(body, body))

    def top_z(x):  # z of the top fuselage line (vertex at 90 deg) at x (tail part)
        x3, r3, z3 = st[3]
        x4, r4, z4 = st[4]
        a = (x - x3) / (x4 - x3)
        return (1 - a) * (z3 + r3) + a * (z4 + r4)

    # wings (low wing with dihedral), one hexahedron per side
    xw, cr, ct, sweep = p['wing_position'] * Lf, p['wing_chord'], 0.5 * p['wing_chord'], \
        0.35 * p['wing_chord']
    zw = zc - 0.55 * rf
    kp = {}
    for side, sname in ((1, 'left'), (-1, 'right')):
        ytip = side * S / 2
        ztip = zw + 0.06 * S / 2
        xt = xw - sweep
        th_r, th_t = 0.14, 0.07
        wing = [(xw - cr / 2, 0.0, zw - th_r), (xw + cr / 2, 0.0, zw - th_r),
                (xt + ct / 2, ytip, ztip - th_t), (xt - ct / 2, ytip, ztip - th_t),
                (xw - cr / 2, 0.0, zw + th_r), (xw + cr / 2, 0.0, zw + th_r),
                (xt + ct / 2, ytip, ztip + th_t), (xt - ct / 2, ytip, ztip + th_t)]
        mb.hexa(wing, body)
        kp[f'{sname}_wing'] = (np.array([xt, ytip, ztip]), (0, side, 0))
        # horizontal stabiliser
        xe, ce = -Lf / 2 + 0.06 * Lf, 0.12 * Lf
        ze = top_z(xe) - 0.35 * rf
        xet = xe - 0.3 * ce
        ye = side * es / 2
        stab = [(xe - ce / 2, 0.0, ze - 0.06), (xe + ce / 2, 0.0, ze - 0.06),
                (xet + ce / 4, ye, ze - 0.04), (xet - ce / 4, ye, ze - 0.04),
                (xe - ce / 2, 0.0, ze + 0.06), (xe + ce / 2, 0.0, ze + 0.06),
                (xet + ce / 4, ye, ze + 0.04), (xet - ce / 4, ye, ze + 0.04)]
        mb.hexa(stab, body)
        kp[f'{sname}_elevator'] = (np.array([xet, ye, ze]), (0, side, 0))
    # vertical fin (rudder): bottom edge sunk into the fuselage top line
    xr0, xr1 = -Lf / 2 + 0.02 * Lf, -Lf / 2 + 0.2 * Lf     # root trailing / leading x
    zr0, zr1 = top_z(xr0) - 0.1, top_z(xr1) - 0.1
    xt0, xt1 = xr0 - 0.02 * Lf, xr0 + 0.07 * Lf
    ztop = top_z(xr0) + fh
    ft = 0.08
    fin = [(xr0, -ft, zr0), (xr1, -ft, zr1), (xr1, ft, zr1), (xr0, ft, zr0),
           (xt0, -ft / 2, ztop), (xt1, -ft / 2, ztop), (xt1, ft / 2, ztop), (xt0, ft / 2, ztop)]
    mb.hexa(fin, accent)
    kp['rudder_upper'] = (np.array([xt0, 0.0, ztop]), (-1, 0, 1))
    zlow = top_z(xr0)
    a = (zlow - zr0) / (ztop - zr0)
    kp['rudder_lower'] = (np.array([(1 - a) * xr0 + a * xt0, 0.0, zlow]), (-1, 0, 0.2))
    kp['noselanding'] = (np.array([st[0][0], 0.0, st[0][2]]), (1, 0, 0))
    kp['tail'] = (np.array([st[4][0], 0.0, st[4][2]]), (-1, 0, 0))
    # landing gear
    tire = col.hsv(*TIRE, 0, 0, 0.04)
    grey = col.hsv(0, 0, 0.55, 0, 0, 0.1)
    wr = 0.25 * gh
    gears = [(Lf / 2 - 0.12 * Lf, 0.0), (xw, 0.45 * rf * 2), (xw, -0.45 * rf * 2)]
    for gx, gy in gears:
        mb.beam((gx, gy, wr), (gx, gy, zc - 0.5 * rf), 0.08, 0.08, grey)
        mb.cylinder((gx, gy - 0.1, wr), (gx, gy + 0.1, wr), wr, tire, n=12)
    return kp


def _build_bicycle(mb: MeshBuilder, p: dict, col: _Colors) -> dict:
    rw, wb, hs, hh, hw = p['wheel_radius'], p['wheelbase'], p['saddle_height'], \
        p['handle_height'], p['handle_width']
    frame = col.paint(0.0, 0.8, 0.7)
    dark = col.hsv(0.0, 0.0, 0.12, 0, 0, 0.05)
    metal = col.hsv(0.0, 0.0, 0.6, 0, 0, 0.1)
    t = p['tube']
    R = np.array([-wb / 2, 0.0, rw])
    F = np.array([wb / 2, 0.0, rw])
    BB = np.array([-wb / 2 + 0.43, 0.0, 0.29])
    Stop = np.array([BB[0] - 0.16, 0.0, hs - 0.12])
    Hb = np.array([F[0] - 0.16, 0.0, 0.62])
    Ht = np.array([F[0] - 0.22, 0.0, hh - 0.16])
    C = Ht + np.array([-0.04, 0.0, 0.14])   # handlebar centre
    for a, b in ((BB, Stop), (Stop, Ht), (BB, Hb), (BB, R), (Stop, R)):
        mb.beam(a, b, t, t, frame, up=(0, 1, 0))
    mb.beam(Hb, Ht, 1.4 * t, 1.4 * t, frame, up=(0, 1, 0))         # head tube
    for side in (-1, 1):                                          # fork blades
        mb.beam(Hb + [0, side * 0.04, 0], F + [0, side * 0.04, 0], 0.6 * t, 0.6 * t, metal,
                up=(0, 1, 0))
    mb.beam(Ht, C, t, t, metal, up=(0, 1, 0))                     # stem
    mb.beam(C + [0, -hw / 2, 0], C + [0, hw / 2, 0], 0.035, 0.035, dark)
    # saddle
    seat = Stop + np.array([0.0, 0.0, 0.08])
    mb.beam(Stop, seat, 0.6 * t, 0.6 * t, metal, up=(0, 1, 0))
    sl = p['saddle_length']
    sx0, sx1 = seat[0] - 0.45 * sl, seat[0] + 0.55 * sl
    mb.hexa([(sx0, -0.08, hs - 0.05), (sx1, -0.025, hs - 0.04), (sx1, 0.025, hs - 0.04),
             (sx0, 0.08, hs - 0.05), (sx0, -0.08, hs), (sx1, -0.025, hs), (sx1, 0.025, hs),
             (sx0, 0.08, hs)], dark)
    # wheels: tyre ring + hub
    kp = {}
    for X, wname in ((R, 'back'), (F, 'front')):
        mb.ring(X, (0, 1, 0), rw, rw - 0.05, 0.04, dark, n=20)
        hub = 0.06
        mb.cylinder(X + [0, -hub, 0], X + [0, hub, 0], 0.025, metal, n=8)
        for ang in (0.0, np.pi / 3, 2 * np.pi / 3):                # spokes
            dv = np.array([np.cos(ang), 0.0, np.sin(ang)]) * (rw - 0.06)
            mb.beam(X - dv, X + dv, 0.008, 0.008, metal, up=(0, 1, 0))
        kp[f'left_{wname}_wheel'] = (X + [0, hub, 0], (0, 1, 0))
        kp[f'right_{wname}_wheel'] = (X + [0, -hub, 0], (0, -1, 0))
    # cranks and pedals (left pedal opposite the right one)
    ca = p['crank_angle']
    for side, sname, ang in ((-1, 'right', ca), (1, 'left', ca + np.pi)):
        P = BB + 0.17 * np.array([np.cos(ang), 0.0, np.sin(ang)])
        P[1] = side * 0.1
        mb.beam(BB + [0, side * 0.05, 0], P, 0.025, 0.02, metal)
        y0, y1 = side * 0.1, side * 0.19
        mb.box(P[0] - 0.05, P[0] + 0.05, min(y0, y1), max(y0, y1), P[2] - 0.012, P[2] + 0.012,
               dark)
        kp[f'{sname}_pedal_center'] = (np.array([P[0], y1, P[2]]), (0, side, 0))
        kp[f'{sname}_handle'] = (C + [0, side * hw / 2, 0], (0, side, 0))
    kp['seat_front'] = (np.array([sx1, 0.0, hs]), (1, 0, 1))
    kp['seat_back'] = (np.array([sx0, 0.0, hs]), (-1, 0, 1))
    # head centre: middle of the head tube's front face
    ax = _unit(Ht - Hb)
    fwd = _unit(np.cross(ax, [0.0, 1.0, 0.0]))
    if fwd[0] < 0:
        fwd = -fwd
    kp['head_center'] = ((Hb + Ht) / 2 + fwd * 0.7 * t, fwd)
    return kp


# ----------------------------------------------------------------------------------
# registry
# ----------------------------------------------------------------------------------
def derive_flip_pairs(names: Sequence[str]) -> Tuple[Tuple[int, int], ...]:
    """Pairs ``(i, j)``, ``i < j``, whose names differ by swapping left <-> right."""
    index = {n: i for i, n in enumerate(names)}
    pairs = []
    for i, n in enumerate(names):
        if 'left' in n:
            j = index.get(n.replace('left', 'right'))
            if j is not None:
                pairs.append((min(i, j), max(i, j)))
    return tuple(sorted(pairs))


def _P(name, mean, std, lo=None, hi=None) -> ParamSpec:
    return ParamSpec(name, mean, std, mean - 2.5 * std if lo is None else lo,
                     mean + 2.5 * std if hi is None else hi)


_DEFS = [
    ('car', ('left_front_wheel', 'left_back_wheel', 'right_front_wheel', 'right_back_wheel',
             'upper_left_windshield', 'upper_right_windshield', 'upper_left_rearwindow',
             'upper_right_rearwindow', 'left_front_light', 'right_front_light',
             'left_back_trunk', 'right_back_trunk'),
     ((0, 1), (2, 3), (0, 2), (1, 3), (4, 5), (6, 7), (4, 6), (5, 7), (8, 9), (10, 11),
      (8, 0), (9, 2), (10, 1), (11, 3), (4, 8), (5, 9), (6, 10), (7, 11)),
     (_P('length', 4.3, 0.3), _P('width', 1.78, 0.07), _P('clearance', 0.2, 0.03),
      _P('body_height', 0.62, 0.06), _P('cabin_height', 0.56, 0.07),
      _P('wheel_radius', 0.33, 0.025), _P('front_overhang', 0.88, 0.08),
      _P('rear_overhang', 0.95, 0.1), _P('hood_length', 1.15, 0.15),
      _P('trunk_length', 0.75, 0.25, 0.2, 1.2), _P('windshield_rake', 0.6, 0.1),
      _P('rear_rake', 0.4, 0.15, 0.05, 0.8)),
     _build_car),
    ('bus', ('body_front_left_lower', 'body_front_left_upper', 'body_front_right_lower',
             'body_front_right_upper', 'body_back_left_lower', 'body_back_left_upper',
             'body_back_right_lower', 'body_back_right_upper', 'left_front_wheel',
             'left_back_wheel', 'right_front_wheel', 'right_back_wheel'),
     ((0, 1), (2, 3), (0, 2), (1, 3), (4, 5), (6, 7), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6),
      (3, 7), (8, 9), (10, 11), (8, 10), (9, 11), (8, 0), (9, 4), (10, 2), (11, 6)),
     (_P('length', 10.5, 1.2, 7.5, 13.0), _P('width', 2.5, 0.05), _P('height', 2.9, 0.15),
      _P('clearance', 0.35, 0.04), _P('wheel_radius', 0.5, 0.03),
      _P('front_overhang', 2.3, 0.25), _P('rear_overhang', 3.0, 0.35),
      _P('window_bottom', 0.42, 0.04)),
     _build_bus),
    ('chair', ('back_upper_left', 'back_upper_right', 'seat_upper_left', 'seat_upper_right',
               'seat_lower_left', 'seat_lower_right', 'leg_upper_left', 'leg_upper_right',
               'leg_lower_left', 'leg_lower_right'),
     ((0, 1), (0, 2), (1, 3), (2, 3), (4, 5), (2, 4), (3, 5), (2, 6), (3, 7), (4, 8), (5, 9)),
     (_P('seat_width', 0.46, 0.04), _P('seat_depth', 0.44, 0.035), _P('seat_height', 0.46, 0.03),
      _P('seat_thickness', 0.05, 0.01), _P('back_height', 0.45, 0.06),
      _P('leg_thickness', 0.045, 0.007), _P('back_lean', 0.05, 0.03, 0.0, 0.12)),
     _build_chair),
    ('sofa', ('front_bottom_left', 'front_bottom_right', 'seat_bottom_left', 'seat_bottom_right',
              'left_bottom_back', 'right_bottom_back', 'top_left_corner', 'top_right_corner',
              'seat_top_left', 'seat_top_right'),
     ((0, 1), (0, 4), (1, 5), (4, 5), (2, 3), (8, 9), (2, 8), (3, 9), (6, 7), (6, 4), (7, 5),
      (6, 8), (7, 9), (0, 2), (1, 3)),
     (_P('width', 1.9, 0.25, 1.3, 2.5), _P('depth', 0.9, 0.07), _P('seat_height', 0.43, 0.03),
      _P('back_height', 0.85, 0.06), _P('arm_height', 0.62, 0.04), _P('arm_width', 0.2, 0.03),
      _P('back_thickness', 0.22, 0.03)),
     _build_sofa),
    ('diningtable', ('leg_upper_left', 'leg_upper_right', 'leg_lower_left', 'leg_lower_right',
                     'top_upper_left', 'top_upper_right', 'top_lower_left', 'top_lower_right',
                     'top_up', 'top_down', 'top_left', 'top_right'),
     ((4, 8), (8, 5), (6, 9), (9, 7), (4, 10), (10, 6), (5, 11), (11, 7), (0, 4), (1, 5),
      (2, 6), (3, 7)),
     (_P('length', 1.6, 0.22, 1.0, 2.2), _P('depth', 0.9, 0.08), _P('height', 0.75, 0.025),
      _P('top_thickness', 0.045, 0.01), _P('leg_thickness', 0.07, 0.012),
      _P('leg_inset', 0.07, 0.025, 0.02, 0.14)),
     _build_diningtable),
    ('tvmonitor', ('front_bottom_left', 'front_bottom_right', 'front_top_left', 'front_top_right',
                   'back_bottom_left', 'back_bottom_right', 'back_top_left', 'back_top_right'),
     ((0, 1), (2, 3), (0, 2), (1, 3), (4, 5), (6, 7), (4, 6), (5, 7), (0, 4), (1, 5), (2, 6),
      (3, 7)),
     (_P('width', 0.6, 0.1, 0.4, 0.85), _P('height', 0.38, 0.05),
      _P('depth', 0.1, 0.05, 0.04, 0.25),
      _P('back_scale', 0.75, 0.08, 0.55, 0.95), _P('stand_height', 0.1, 0.025)),
     _build_tvmonitor),
    ('bottle', ('mouth', 'body', 'body_left', 'body_right', 'bottom', 'bottom_left',
                'bottom_right'),
     ((0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (1, 4), (2, 5), (3, 6), (4, 5), (4, 6)),
     (_P('height', 0.3, 0.04), _P('radius', 0.04, 0.007), _P('body_fraction', 0.6, 0.05),
      _P('shoulder_fraction', 0.17, 0.04), _P('neck_radius', 0.014, 0.002)),
     _build_bottle),
    ('boat', ('head', 'head_down', 'head_left', 'head_right', 'tail_left', 'tail_right', 'tail'),
     ((0, 1), (0, 2), (0, 3), (2, 4), (3, 5), (4, 6), (6, 5), (2, 3)),
     (_P('length', 6.0, 0.9), _P('beam', 2.2, 0.25), _P('depth', 1.0, 0.12),
      _P('bow_rake', 1.0, 0.25), _P('cabin_length', 1.6, 0.35), _P('cabin_height', 0.8, 0.15)),
     _build_boat),
    ('aeroplane', ('left_wing', 'right_wing', 'rudder_upper', 'noselanding', 'left_elevator',
                   'rudder_lower', 'right_elevator', 'tail'),
     ((3, 7), (0, 1), (0, 3), (1, 3), (4, 6), (4, 7), (6, 7), (2, 5), (5, 7), (0, 4), (1, 6)),
     (_P('fuselage_length', 11.0, 1.5), _P('fuselage_radius', 0.75, 0.1),
      _P('wingspan', 11.5, 1.5), _P('wing_chord', 1.8, 0.25), _P('wing_position', 0.05, 0.03),
      _P('gear_height', 0.7, 0.1), _P('fin_height', 1.7, 0.25), _P('elevator_span', 4.0, 0.5)),
     _build_aeroplane),
    ('bicycle', ('seat_front', 'right_back_wheel', 'right_pedal_center', 'right_front_wheel',
                 'left_front_wheel', 'left_handle', 'seat_back', 'head_center', 'left_back_wheel',
                 'left_pedal_center', 'right_handle'),
     ((0, 6), (0, 7), (7, 5), (7, 10), (5, 10), (7, 3), (7, 4), (1, 8), (3, 4), (2, 9), (6, 2),
      (6, 9), (2, 1), (9, 8), (6, 1), (6, 8)),
     (_P('wheel_radius', 0.34, 0.02), _P('wheelbase', 1.02, 0.05), _P('saddle_height', 0.95, 0.05),
      _P('handle_height', 1.02, 0.05), _P('handle_width', 0.56, 0.05),
      _P('saddle_length', 0.26, 0.02), _P('tube', 0.045, 0.006),
      _P('crank_angle', 0.0, 1.5, -np.pi, np.pi)),
     _build_bicycle),
]

CATEGORIES: Dict[str, CategorySpec] = {}
for _i, (_name, _kps, _skel, _params, _builder) in enumerate(_DEFS):
    CATEGORIES[_name] = CategorySpec(name=_name, id=_i + 1, keypoint_names=tuple(_kps),
                                     skeleton=tuple(tuple(e) for e in _skel),
                                     flip_pairs=derive_flip_pairs(_kps), params=tuple(_params),
                                     builder=_builder)
_BY_ID = {c.id: c for c in CATEGORIES.values()}


def category_names() -> Tuple[str, ...]:
    return tuple(CATEGORIES)


def get_category(name_or_id: Union[str, int, CategorySpec]) -> CategorySpec:
    """Look a category up by name or COCO id; unknown values raise ``KeyError``
    naming the value and listing the valid ones."""
    if isinstance(name_or_id, CategorySpec):
        return name_or_id
    if isinstance(name_or_id, (int, np.integer)) and not isinstance(name_or_id, bool):
        if int(name_or_id) in _BY_ID:
            return _BY_ID[int(name_or_id)]
        raise KeyError(f'unknown kplink-synth category id {name_or_id!r}; valid ids: '
                       f'{sorted(_BY_ID)} ({", ".join(CATEGORIES)})')
    if isinstance(name_or_id, str) and name_or_id in CATEGORIES:
        return CATEGORIES[name_or_id]
    raise KeyError(f'unknown kplink-synth category {name_or_id!r}; valid names: '
                   f'{", ".join(CATEGORIES)}')

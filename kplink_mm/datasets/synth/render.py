"""A small numpy z-buffer triangle rasteriser plus procedural backgrounds.

* :func:`rasterize`: triangles in the camera frame -> depth map (camera z, ``inf``
  for background) and face-id map (``-1`` for background). Triangles with a
  vertex in front of the near plane are dropped (not clipped); back faces are
  culled (meshes are closed and wound counter-clockwise seen from outside).
  Pixels are sampled at their centres ``(j + 0.5, i + 0.5)``; depth is
  interpolated perspective-correctly (``1/z`` is affine in screen space).
  All triangles are rasterised together: they are bucketed by the power-of-two
  size of their pixel bounding box and every bucket is evaluated as one
  ``(T, h, w)`` array; the z-test is one ``np.minimum.at`` over packed
  ``(depth, face)`` integer keys, so the result does not depend on the order.
* :func:`shade_faces`: flat Lambertian shading (ambient + diffuse) in the world
  frame, so all views of a scene share the same surface colours.
* :func:`procedural_background`: ground below the horizon with a texture defined
  on the ground plane (tiles, lanes, noise; perspective-correct and consistent
  across views), cast shadows (:func:`shadow_mask`), sky/wall above it, random
  blobs and stripes as clutter.
* :func:`finish_image`: optional Gaussian blur + pixel noise, to uint8.

Only numpy is needed; cv2 (if importable) is used for the blur.
"""
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

import numpy as np

from kplink_mm.geometry.camera import camera_center

__all__ = ['rasterize', 'RenderResult', 'render_meshes', 'shade_faces', 'face_normals',
           'Appearance', 'sample_appearance', 'procedural_background', 'shadow_mask',
           'finish_image']

_KEY_EMPTY = np.iinfo(np.int64).max


# ----------------------------------------------------------------------------------
# rasteriser
# ----------------------------------------------------------------------------------
def rasterize(verts_cam: np.ndarray, faces: np.ndarray, K: np.ndarray, height: int, width: int,
              near: float = 0.05, cull_backfaces: bool = True,
              max_block: int = 2_000_000) -> Tuple[np.ndarray, np.ndarray]:
    """Z-buffer rasterisation.

    Args:
        verts_cam: ``(V,3)`` vertices in the camera frame (x right, y down, z fwd).
        faces: ``(F,3)`` vertex indices.
        K: 3x3 intrinsics.
        height, width: image size.
        near: triangles with any vertex at ``z <= near`` are dropped.
        cull_backfaces: drop triangles whose outward normal faces away.

    Returns:
        ``depth (H,W) float32`` (camera z; ``inf`` = background) and
        ``face_id (H,W) int32`` (index into ``faces``; ``-1`` = background).
    """
    H, W = int(height), int(width)
    verts_cam = np.asarray(verts_cam, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64).reshape(-1, 3)
    K = np.asarray(K, dtype=np.float64)
    depth = np.full(H * W, np.inf, dtype=np.float32)
    face_id = np.full(H * W, -1, dtype=np.int32)
    if len(faces) == 0:
        return depth.reshape(H, W), face_id.reshape(H, W)
    p0, p1, p2 = verts_cam[faces[:, 0]], verts_cam[faces[:, 1]], verts_cam[faces[:, 2]]
    ok = (p0[:, 2] > near) & (p1[:, 2] > near) & (p2[:, 2] > near)
    if cull_backfaces:
        e1, e2 = p1 - p0, p2 - p0
        n = np.stack([e1[:, 1] * e2[:, 2] - e1[:, 2] * e2[:, 1],
                      e1[:, 2] * e2[:, 0] - e1[:, 0] * e2[:, 2],
                      e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]], -1)
        ok &= (n * p0).sum(1) < 0
    fidx = np.nonzero(ok)[0]
    if len(fidx) == 0:
        return depth.reshape(H, W), face_id.reshape(H, W)
    P = np.stack([p0[fidx], p1[fidx], p2[fidx]], 1)           # (T,3,3)
    q = P @ K.T
    z = P[..., 2]
    u = q[..., 0] / q[..., 2]
    v = q[..., 1] / q[..., 2]
    area = (u[:, 1] - u[:, 0]) * (v[:, 2] - v[:, 0]) - (u[:, 2] - u[:, 0]) * (v[:, 1] - v[:, 0])
    j0 = np.maximum(np.ceil(u.min(1) - 0.5), 0)
    j1 = np.minimum(np.floor(u.max(1) - 0.5), W - 1)
    i0 = np.maximum(np.ceil(v.min(1) - 0.5), 0)
    i1 = np.minimum(np.floor(v.max(1) - 0.5), H - 1)
    ok = (np.abs(area) > 1e-12) & (j1 >= j0) & (i1 >= i0)
    if not ok.any():
        return depth.reshape(H, W), face_id.reshape(H, W)
    fidx, u, v, z, area = fidx[ok], u[ok], v[ok], z[ok], area[ok]
    j0, j1, i0, i1 = (a[ok].astype(np.int64) for a in (j0, j1, i0, i1))
    bw = j1 - j0 + 1
    bh = i1 - i0 + 1
    sw = 1 << np.ceil(np.log2(bw)).astype(np.int64)
    sh = 1 << np.ceil(np.log2(bh)).astype(np.int64)
    bucket = sh * 4096 + sw
    order = np.argsort(bucket, kind='stable')
    bucket_sorted = bucket[order]
    starts = np.r_[0, np.nonzero(np.diff(bucket_sorted))[0] + 1, len(order)]
    iz = 1.0 / z
    pix_parts, key_parts = [], []
    for s0, s1 in zip(starts[:-1], starts[1:]):
        bsh, bsw = int(sh[order[s0]]), int(sw[order[s0]])
        chunk = max(1, max_block // (bsh * bsw))
        for c0 in range(s0, s1, chunk):
            t = order[c0:min(s1, c0 + chunk)]
            cx = (j0[t, None] + np.arange(bsw)[None, :]).astype(np.float64)   # (T,w)
            cy = (i0[t, None] + np.arange(bsh)[None, :]).astype(np.float64)   # (T,h)
            ut, vt, a = u[t], v[t], area[t]
            dx = (cx + 0.5 - ut[:, 0:1])[:, None, :]                              # (T,1,w)
            dy = (cy + 0.5 - vt[:, 0:1])[:, :, None]                              # (T,h,1)
            l1 = (dx * ((vt[:, 2] - vt[:, 0]) / a)[:, None, None]
                  - dy * ((ut[:, 2] - ut[:, 0]) / a)[:, None, None])
            l2 = (dy * ((ut[:, 1] - ut[:, 0]) / a)[:, None, None]
                  - dx * ((vt[:, 1] - vt[:, 0]) / a)[:, None, None])
            eps = -1e-7
            inside = (l1 >= eps) & (l2 >= eps) & (l1 + l2 <= 1 - eps)
            inside &= (cx <= j1[t, None])[:, None, :] & (cy <= i1[t, None])[:, :, None]
            tt, yy, xx = np.nonzero(inside)
            if len(tt) == 0:
                continue
            izt = iz[t]
            invz = (izt[tt, 0] + l1[tt, yy, xx] * (izt[tt, 1] - izt[tt, 0])
                    + l2[tt, yy, xx] * (izt[tt, 2] - izt[tt, 0]))
            d = (1.0 / invz).astype(np.float32)
            pix = (i0[t][tt] + yy) * W + (j0[t][tt] + xx)
            key = (d.view(np.int32).astype(np.int64) << 32) | fidx[t][tt]
            pix_parts.append(pix)
            key_parts.append(key)
    if not pix_parts:
        return depth.reshape(H, W), face_id.reshape(H, W)
    buf = np.full(H * W, _KEY_EMPTY, dtype=np.int64)
    np.minimum.at(buf, np.concatenate(pix_parts), np.concatenate(key_parts))
    hit = buf != _KEY_EMPTY
    depth[hit] = (buf[hit] >> 32).astype(np.int32).view(np.float32)
    face_id[hit] = (buf[hit] & 0xFFFFFFFF).astype(np.int32)
    return depth.reshape(H, W), face_id.reshape(H, W)


@dataclass
class RenderResult:
    image: np.ndarray          # (H,W,3) float32 RGB in [0,255] before finish_image
    depth: np.ndarray          # (H,W) float32 camera z, inf = background
    instance_map: np.ndarray   # (H,W) int32 instance id, -1 = background
    face_map: np.ndarray       # (H,W) int32 face index, -1 = background


def render_meshes(verts_world: np.ndarray, faces: np.ndarray, face_rgb: np.ndarray,
                  face_instance: np.ndarray, K: np.ndarray, R: np.ndarray, t: np.ndarray,
                  height: int, width: int, background: Optional[np.ndarray] = None,
                  near: float = 0.05) -> RenderResult:
    """Render world-frame meshes with per-face colours (already shaded) over a
    background ``(H,W,3)`` (black if ``None``)."""
    vc = np.asarray(verts_world, dtype=np.float64) @ np.asarray(R, dtype=np.float64).T \
        + np.asarray(t, dtype=np.float64).reshape(1, 3)
    depth, fmap = rasterize(vc, faces, K, height, width, near=near)
    if background is None:
        image = np.zeros((height, width, 3), dtype=np.float32)
    else:
        image = np.array(background, dtype=np.float32, copy=True)
    hit = fmap >= 0
    image[hit] = np.asarray(face_rgb, dtype=np.float32)[fmap[hit]]
    inst = np.full((height, width), -1, dtype=np.int32)
    inst[hit] = np.asarray(face_instance, dtype=np.int32)[fmap[hit]]
    return RenderResult(image=image, depth=depth, instance_map=inst, face_map=fmap)


def face_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Unit outward normals ``(F,3)``."""
    v = np.asarray(verts, dtype=np.float64)
    a, b, c = v[faces[:, 0]], v[faces[:, 1]], v[faces[:, 2]]
    n = np.cross(b - a, c - a)
    return n / np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-20)


def shade_faces(verts_world: np.ndarray, faces: np.ndarray, face_colors: np.ndarray,
                light_dir: Sequence[float], ambient: float = 0.45, diffuse: float = 0.6,
                sky_fill: float = 0.1) -> np.ndarray:
    """Flat Lambertian shading: ``color * (ambient + diffuse * max(0, n.l) +
    sky_fill * n_z)``, in the world frame. Returns ``(F,3)`` float32 in [0,255]."""
    n = face_normals(verts_world, faces)
    ldir = np.asarray(light_dir, dtype=np.float64)
    ldir = ldir / np.linalg.norm(ldir)
    lam = ambient + diffuse * np.maximum(n @ ldir, 0.0) + sky_fill * n[:, 2]
    col = np.asarray(face_colors, dtype=np.float64) * lam[:, None]
    return np.clip(col, 0, 255).astype(np.float32)


# ----------------------------------------------------------------------------------
# appearance: lighting + background style (sampled once per scene)
# ----------------------------------------------------------------------------------
@dataclass
class Appearance:
    light_dir: np.ndarray
    ambient: float
    diffuse: float
    indoor: bool
    ground_rgb: np.ndarray
    ground_rgb2: np.ndarray
    ground_pattern: str          # 'noise' | 'tiles' | 'lanes' | 'stripes'
    pattern_scale: float
    pattern_angle: float
    sky_top: np.ndarray
    sky_bottom: np.ndarray
    noise_seed: int
    noise_amp: float
    num_blobs: int
    num_stripes: int
    blur_sigma: float
    pixel_noise: float
    shadow_strength: float


def _rand_rgb(rng, h, s, v, dh=0.05, ds=0.15, dv=0.15) -> np.ndarray:
    import colorsys
    hh = (h + rng.uniform(-dh, dh)) % 1.0
    ss = float(np.clip(s + rng.uniform(-ds, ds), 0, 1))
    vv = float(np.clip(v + rng.uniform(-dv, dv), 0, 1))
    return np.array(colorsys.hsv_to_rgb(hh, ss, vv)) * 255.0


def sample_appearance(rng: np.random.Generator, scale: float = 1.0,
                      blur: bool = True, noise: bool = True) -> Appearance:
    """Random lighting and background style; ``scale`` (m) sets texture sizes."""
    az = rng.uniform(0, 2 * np.pi)
    el = rng.uniform(np.deg2rad(25), np.deg2rad(80))
    light = np.array([np.cos(az) * np.cos(el), np.sin(az) * np.cos(el), np.sin(el)])
    indoor = bool(rng.random() < 0.4)
    if indoor:
        ground = _rand_rgb(rng, *[(0.08, 0.5, 0.55), (0.0, 0.0, 0.6), (0.1, 0.3, 0.35),
                                  (0.6, 0.15, 0.5)][rng.integers(4)])
        pattern = ['tiles', 'stripes', 'noise'][rng.integers(3)]
        wall = _rand_rgb(rng, rng.random(), 0.2, 0.8, 0.0, 0.15, 0.15)
        sky_top, sky_bottom = wall * rng.uniform(0.8, 1.0), wall * rng.uniform(0.6, 0.9)
    else:
        ground = _rand_rgb(rng, *[(0.25, 0.5, 0.45), (0.0, 0.0, 0.4), (0.1, 0.35, 0.65),
                                  (0.3, 0.3, 0.35), (0.55, 0.4, 0.45)][rng.integers(5)])
        pattern = ['lanes', 'noise', 'tiles'][rng.integers(3)]
        sky_top = _rand_rgb(rng, 0.58, 0.55, 0.85, 0.03, 0.3, 0.15)
        sky_bottom = _rand_rgb(rng, 0.58, 0.15, 0.95, 0.05, 0.15, 0.05)
    ground2 = np.clip(ground * rng.uniform(0.6, 1.4) + rng.uniform(-25, 25, 3), 0, 255)
    return Appearance(
        light_dir=light, ambient=float(rng.uniform(0.35, 0.6)),
        diffuse=float(rng.uniform(0.35, 0.7)), indoor=indoor, ground_rgb=ground,
        ground_rgb2=ground2, ground_pattern=pattern,
        pattern_scale=float(scale * rng.uniform(0.15, 0.6)),
        pattern_angle=float(rng.uniform(0, np.pi)), sky_top=sky_top, sky_bottom=sky_bottom,
        noise_seed=int(rng.integers(2**31)), noise_amp=float(rng.uniform(8, 35)),
        num_blobs=int(rng.integers(0, 6)), num_stripes=int(rng.integers(0, 3)),
        blur_sigma=float(rng.uniform(0.0, 1.0)) if blur and rng.random() < 0.6 else 0.0,
        pixel_noise=float(rng.uniform(0.0, 6.0)) if noise else 0.0,
        shadow_strength=float(rng.uniform(0.25, 0.55)))


def _ground_texture(app: Appearance, size: int = 64) -> np.ndarray:
    """Periodic ``(size, size)`` 1/f noise in [-1, 1] (cached on ``app``)."""
    tex = getattr(app, '_texture', None)
    if tex is None:
        r = np.random.default_rng(app.noise_seed)
        f = np.fft.fftfreq(size)
        amp = 1.0 / np.maximum(np.hypot(f[:, None], f[None, :]), 1.0 / size) ** 1.6
        amp[0, 0] = 0
        spec = amp * np.exp(2j * np.pi * r.random((size, size)))
        tex = np.fft.ifft2(spec).real
        tex = (tex / np.abs(tex).max()).astype(np.float32)
        app._texture = tex
    return tex


def _sample_texture(tex: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Bilinear, wrapping lookup of ``tex`` (square, power-of-two side) at texel
    coordinates ``(x, y)``."""
    T = tex.shape[0]
    m = T - 1
    flat = tex.ravel()
    x0, y0 = np.floor(x), np.floor(y)
    fx, fy = (x - x0).astype(np.float32), (y - y0).astype(np.float32)
    i0 = x0.astype(np.int32) & m
    j0 = (y0.astype(np.int32) & m) * T
    i1 = (i0 + 1) & m
    j1 = (j0 + T) & (T * T - 1)
    top = flat[j0 + i0] + (flat[j0 + i1] - flat[j0 + i0]) * fx
    bot = flat[j1 + i0] + (flat[j1 + i1] - flat[j1 + i0]) * fx
    return top + (bot - top) * fy


def procedural_background(rng: np.random.Generator, app: Appearance, K: np.ndarray,
                          R: np.ndarray, t: np.ndarray, height: int, width: int,
                          shadow_mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Background ``(H,W,3)`` float32: textured ground below the horizon (the
    texture is defined on the plane z = 0, so it is perspective-correct and the
    same in every view), darkened by ``shadow_mask`` (``(H,W)`` in [0,1], cast
    shadows), a sky / wall gradient above it, plus image-space blobs and stripes
    as clutter. ``rng`` only drives the view-specific clutter."""
    H, W = int(height), int(width)
    R = np.asarray(R, dtype=np.float64)
    C = camera_center(R, t)
    M = (R.T @ np.linalg.inv(np.asarray(K, dtype=np.float64))).astype(np.float32)
    uu = np.arange(W, dtype=np.float32) + 0.5
    vv = np.arange(H, dtype=np.float32) + 0.5
    # world ray direction of every pixel: d = R^T K^-1 [u, v, 1]
    d = [M[k, 0] * uu[None, :] + (M[k, 1] * vv[:, None] + M[k, 2]) for k in range(3)]
    dz = d[2] / np.sqrt(d[0] ** 2 + d[1] ** 2 + d[2] ** 2)          # sine of elevation
    a = np.clip(dz * 2.0, 0, 1)[..., None]
    sky_b = app.sky_bottom.astype(np.float32)
    img = sky_b + (app.sky_top.astype(np.float32) - sky_b) * a
    if app.indoor:
        img *= (0.85 + 0.15 * np.clip(dz / 0.15, 0, 1))[..., None]
    ground = d[2] < -1e-6
    if ground.any() and C[2] > 0:
        gz = d[2][ground]
        s = (-C[2] / gz).astype(np.float32)
        X = np.float32(C[0]) + s * d[0][ground]
        Y = np.float32(C[1]) + s * d[1][ground]
        sc = np.float32(app.pattern_scale)
        ca, sa = np.float32(np.cos(app.pattern_angle)), np.float32(np.sin(app.pattern_angle))
        Xr, Yr = ca * X + sa * Y, ca * Y - sa * X
        tex = _ground_texture(app)
        noise = 0.75 * _sample_texture(tex, Xr / (sc * 0.5), Yr / (sc * 0.5)) \
            + 0.25 * _sample_texture(tex, Yr / (sc * 0.08) + 17.0, Xr / (sc * 0.08))
        base = app.ground_rgb.astype(np.float32)
        col = base + np.float32(app.noise_amp) * noise[:, None]
        if app.ground_pattern == 'tiles':
            tile = sc * 4
            gx, gy = Xr / tile, Yr / tile
            chk = ((np.floor(gx) + np.floor(gy)) % 2).astype(np.float32)[:, None]
            col = col + chk * (0.5 * (app.ground_rgb2.astype(np.float32) - base))
            grout = np.minimum(np.abs(gx - np.round(gx)), np.abs(gy - np.round(gy))) < 0.03
            col[grout] *= 0.7
        elif app.ground_pattern == 'stripes':
            st = np.sin(Xr / sc * np.float32(np.pi)) > 0.3
            col[st] = col[st] * 0.85 + 0.15 * app.ground_rgb2.astype(np.float32)
        elif app.ground_pattern == 'lanes':
            lane = sc * 12
            ph = Xr / lane - np.floor(Xr / lane)
            dash = (Yr / (sc * 6) - np.floor(Yr / (sc * 6))) < 0.5
            col[(np.abs(ph - 0.5) < 0.02) & dash] = (235.0, 235.0, 220.0)
        if shadow_mask is not None:
            col *= (1 - np.float32(app.shadow_strength) * shadow_mask[ground])[:, None]
        # haze towards the horizon
        fog = np.clip(-dz[ground] / 0.08, 0, 1)[:, None]
        img[ground] = col * fog + (0.9 * sky_b) * (1 - fog)
    # clutter: blobs and stripes in image space
    for _ in range(app.num_blobs):
        cxp, cyp = rng.uniform(0, W), rng.uniform(0, H)
        rx, ry = rng.uniform(0.03, 0.15) * W, rng.uniform(0.03, 0.15) * H
        colb = rng.uniform(0, 255, 3).astype(np.float32)
        alpha = np.float32(rng.uniform(0.3, 0.9))
        x0, x1 = int(max(0, cxp - rx)), int(min(W, cxp + rx + 1))
        y0, y1 = int(max(0, cyp - ry)), int(min(H, cyp + ry + 1))
        if x1 <= x0 or y1 <= y0:
            continue
        m = ((((uu[None, x0:x1] - cxp) / rx) ** 2 + ((vv[y0:y1, None] - cyp) / ry) ** 2) <= 1)
        sub = img[y0:y1, x0:x1]
        sub[m] = sub[m] * (1 - alpha) + colb * alpha
    for _ in range(app.num_stripes):
        ang = rng.uniform(0, np.pi)
        period = rng.uniform(6, 30)
        colb = rng.uniform(0, 255, 3).astype(np.float32)
        alpha = np.float32(rng.uniform(0.1, 0.35))
        y0, x0 = int(rng.integers(0, H)), int(rng.integers(0, W))
        y1 = min(H, y0 + int(rng.integers(H // 8, H // 2)))
        x1 = min(W, x0 + int(rng.integers(W // 8, W // 2)))
        ph = (np.cos(ang) * uu[None, x0:x1] + np.sin(ang) * vv[y0:y1, None]) / period
        m = (ph - np.floor(ph)) < 0.5
        sub = img[y0:y1, x0:x1]
        sub[m] = sub[m] * (1 - alpha) + colb * alpha
    return img


def shadow_mask(verts_world: np.ndarray, faces: np.ndarray, light_dir: Sequence[float],
                K: np.ndarray, R: np.ndarray, t: np.ndarray, height: int, width: int,
                soften: float = 1.0) -> np.ndarray:
    """Cast shadows on the ground: the light-facing triangles projected onto z = 0
    along ``light_dir`` (towards the light) and rasterised; ``(H,W)`` float32 in
    [0,1], softened by a small blur."""
    ldir = np.asarray(light_dir, dtype=np.float64)
    ldir = ldir / np.linalg.norm(ldir)
    n = face_normals(verts_world, faces)
    lit = faces[(n @ ldir) > 0]
    V = np.asarray(verts_world, dtype=np.float64)
    Vs = V - (V[:, 2:3] / max(ldir[2], 0.1)) * ldir[None]
    Vs[:, 2] = 0.0
    vc = Vs @ np.asarray(R, dtype=np.float64).T + np.asarray(t, dtype=np.float64).reshape(1, 3)
    _, fmap = rasterize(vc, lit, K, height, width, cull_backfaces=False)
    m = (fmap >= 0).astype(np.float32)
    if soften > 0 and m.any():
        m = _gaussian_blur(m[..., None], soften).reshape(m.shape)
    return m


def _gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    try:
        import cv2
        return cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, sigmaY=sigma,
                                borderType=cv2.BORDER_REFLECT)
    except ImportError:  # pragma: no cover - numpy fallback
        r = max(1, int(3 * sigma + 0.5))
        k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)
        k /= k.sum()
        pad = np.pad(img, ((r, r), (r, r), (0, 0)), mode='reflect')
        tmp = sum(k[i] * pad[i:i + img.shape[0]] for i in range(2 * r + 1))
        return sum(k[i] * tmp[:, i:i + img.shape[1]] for i in range(2 * r + 1)).astype(img.dtype)


def finish_image(image: np.ndarray, rng: np.random.Generator, blur_sigma: float = 0.0,
                 pixel_noise: float = 0.0) -> np.ndarray:
    """Blur (sigma in pixels, skipped below 0.3) + Gaussian pixel noise -> uint8."""
    img = np.asarray(image, dtype=np.float32)
    if blur_sigma >= 0.3:
        img = _gaussian_blur(img, blur_sigma)
    if pixel_noise > 0:
        img = img + rng.standard_normal(img.shape, dtype=np.float32) * np.float32(pixel_noise)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)

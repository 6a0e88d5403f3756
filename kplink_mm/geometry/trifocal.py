"""Trifocal tensor of three calibrated views and the Occlusion-Net loss (Eq. 9).

Notation (Hartley & Zisserman, ch. 15-17): views 1, 2, 3 have 3x4 cameras
``P1, P2, P3`` and images ``x, x', x''`` of one 3D point. The tensor ``T`` is
stored ``(..., 3, 3, 3)`` with ``T[..., i, j, k] = T_i^{jk}``, i.e. ``T[..., i, :, :]``
is the 3x3 matrix ``T_i``. The point-point-point incidence is

    [x']_x (sum_i x^i T_i) [x'']_x = 0_{3x3},

which is linear in ``x`` (the view-1 point): given ``x'`` and ``x''`` it "transfers"
the point into view 1. In Occlusion-Net view 1 is the view in which a keypoint is
occluded (the prediction ``x1_pred``) and views 2, 3 are two other calibrated views
in which it is visible.

Every function accepts torch tensors or numpy arrays (converted with
:func:`torch.as_tensor`; mixed inputs are promoted to a common float dtype, on the
device of the first tensor argument), broadcasts leading batch dimensions and is
differentiable in torch. 2D points may be given as ``(..., 2)`` pixel coordinates
or ``(..., 3)`` homogeneous vectors.
"""
from typing import Optional, Sequence, Tuple

import torch

from .quaternion import TensorLike

__all__ = ['trifocal_tensor', 'incidence_residual', 'transfer_point', 'normalizing_transform',
           'trifocal_loss', 'trifocal_transfer', 'trifocal_transfer_error', 'skew']

# rows of P1 kept for T_i (H&Z: ~a^i is P1 with row i omitted) and the sign (-1)^(i+1)
_ROWS_WITHOUT = ((1, 2), (0, 2), (0, 1))
_SIGNS = (1.0, -1.0, 1.0)


def _floats(*xs) -> Tuple[torch.Tensor, ...]:
    """Tensors of ``xs`` with one common float dtype and device (autograd kept)."""
    ts = [torch.as_tensor(x) for x in xs]
    dtype = None
    for t in ts:
        if t.is_floating_point():
            dtype = t.dtype if dtype is None else torch.promote_types(dtype, t.dtype)
    dtype = dtype or torch.get_default_dtype()
    device = next((x.device for x in xs if torch.is_tensor(x)), torch.device('cpu'))
    return tuple(t.to(dtype=dtype, device=device) for t in ts)


def _homogeneous(x: torch.Tensor, name: str = 'point') -> torch.Tensor:
    if x.shape[-1] == 2:
        return torch.cat([x, torch.ones_like(x[..., :1])], -1)
    if x.shape[-1] == 3:
        return x
    raise ValueError(f'{name} must be (..., 2) or homogeneous (..., 3), got {tuple(x.shape)}')


def _dehomogenize(x: torch.Tensor) -> torch.Tensor:
    # sign-preserving floor: a point at infinity gives huge, not NaN, coordinates
    w = x[..., 2:]
    tiny = torch.finfo(w.dtype).tiny
    floor = torch.where(w < 0, -tiny, tiny).to(w.dtype)
    return x[..., :2] / torch.where(w.abs() < tiny, floor, w)


def _safe_norm(x: torch.Tensor, dims) -> torch.Tensor:
    """Euclidean/Frobenius norm whose gradient is 0 (not NaN) where the norm is 0."""
    sq = (x * x).sum(dims)
    pos = sq > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))),
                       torch.zeros_like(sq))


def skew(v: TensorLike) -> torch.Tensor:
    """Cross-product matrices ``[v]_x (..., 3, 3)`` of ``v (..., 3)``:
    ``[v]_x @ w == cross(v, w)``."""
    v, = _floats(v)
    x, y, z = v.unbind(-1)
    o = torch.zeros_like(x)
    return torch.stack([o, -z, y, z, o, -x, -y, x, o], -1).reshape(v.shape[:-1] + (3, 3))


def trifocal_tensor(P1: TensorLike, P2: TensorLike, P3: TensorLike) -> torch.Tensor:
    """Trifocal tensor ``(..., 3, 3, 3)`` of cameras ``P1, P2, P3 (..., 3, 4)``.

    General formula (H&Z eq. 17.12), valid for any finite cameras, not only the
    canonical ``P1 = [I | 0]``:

        T_i^{jk} = (-1)^(i+1) det [~a^i; b^j; c^k]

    with ``~a^i`` the 2x4 matrix of ``P1`` without row ``i``, ``b^j`` row ``j`` of
    ``P2`` and ``c^k`` row ``k`` of ``P3``. For ``P1 = [I | 0], P2 = [A | a4],
    P3 = [B | b4]`` it equals ``T_i = a_i b4^T - a4 b_i^T`` exactly. ``T`` scales
    with each camera's (arbitrary) scale; normalise it before comparing tensors.
    Returns a torch tensor (numpy inputs are converted).
    """
    P1, P2, P3 = _floats(P1, P2, P3)
    for name, P in (('P1', P1), ('P2', P2), ('P3', P3)):
        if P.shape[-2:] != (3, 4):
            raise ValueError(f'trifocal_tensor: {name} must be (..., 3, 4), got {tuple(P.shape)}')
    batch = torch.broadcast_shapes(P1.shape[:-2], P2.shape[:-2], P3.shape[:-2])
    full = batch + (3, 3, 3)
    rows = torch.tensor(_ROWS_WITHOUT, device=P1.device)
    a = P1[..., rows, :]                                          # (..., 3, 2, 4)
    M = torch.cat([
        a[..., :, None, None, :, :].expand(full + (2, 4)),
        P2[..., None, :, None, None, :].expand(full + (1, 4)),
        P3[..., None, None, :, None, :].expand(full + (1, 4)),
    ], -2)                                                        # (..., 3, 3, 3, 4, 4)
    signs = torch.tensor(_SIGNS, dtype=P1.dtype, device=P1.device)
    return torch.linalg.det(M) * signs[:, None, None]


def incidence_residual(T: TensorLike, x1: TensorLike, x2: TensorLike, x3: TensorLike
                       ) -> torch.Tensor:
    """Point-point-point incidence ``[x2]_x (sum_i x1^i T_i) [x3]_x`` ``(..., 3, 3)``.

    ``T (..., 3, 3, 3)``; ``x1, x2, x3 (..., 2)`` (a homogeneous 1 is appended) or
    ``(..., 3)``. Exactly zero for a true correspondence; its scale is that of
    ``T`` times those of the three homogeneous vectors.
    """
    T, x1, x2, x3 = _floats(T, x1, x2, x3)
    x1h, x2h, x3h = (_homogeneous(x, n) for x, n in ((x1, 'x1'), (x2, 'x2'), (x3, 'x3')))
    M = (x1h[..., :, None, None] * T).sum(-3)
    return skew(x2h) @ M @ skew(x3h)


def transfer_point(T: TensorLike, x2: TensorLike, x3: TensorLike) -> torch.Tensor:
    """View-1 point ``(..., 2)`` incident with ``x2`` (view 2) and ``x3`` (view 3).

    The residual is linear in ``x1``: ``vec(residual) = A x1`` with column ``i`` of
    ``A (..., 9, 3)`` being ``vec([x2]_x T_i [x3]_x)``. We solve ``A x1 = 0`` with
    ``x1 = (u, v, 1)`` in least squares, i.e. ``A[:, :2] (u, v) = -A[:, 2]``, via
    the 2x2 normal equations after equilibrating the two columns (which does not
    change the solution but keeps raw-pixel tensors well conditioned). Exact for
    noise-free data; degenerate when the 3D point lies on the line joining the
    centres of cameras 2 and 3 (then views 2 and 3 do not fix it): such items
    get a meaningless but finite result rather than an exception.
    """
    T, x2, x3 = _floats(T, x2, x3)
    x2h, x3h = _homogeneous(x2, 'x2'), _homogeneous(x3, 'x3')
    C = skew(x2h)[..., None, :, :] @ T @ skew(x3h)[..., None, :, :]   # (..., 3, 3, 3)
    A = C.flatten(-2).transpose(-1, -2)                               # (..., 9, 3)
    A2, a3 = A[..., :2], A[..., 2]
    scale = _safe_norm(A2, -2).clamp(min=torch.finfo(A.dtype).tiny)   # (..., 2)
    A2 = A2 / scale[..., None, :]
    G = A2.transpose(-1, -2) @ A2                                     # (..., 2, 2)
    rhs = -(A2.transpose(-1, -2) @ a3[..., None])[..., 0]
    # closed-form 2x2 solve: a degenerate item gives a huge/zero point instead of
    # torch.linalg.solve raising for the whole batch
    g00, g01, g11 = G[..., 0, 0], G[..., 0, 1], G[..., 1, 1]
    det = g00 * g11 - g01 * g01                                       # >= 0 (Gram)
    det = det.clamp(min=torch.finfo(det.dtype).tiny)
    y = torch.stack([g11 * rhs[..., 0] - g01 * rhs[..., 1],
                     g00 * rhs[..., 1] - g01 * rhs[..., 0]], -1) / det[..., None]
    return y / scale


def normalizing_transform(points: Optional[TensorLike] = None,
                          image_size: Optional[TensorLike] = None,
                          camera: Optional[TensorLike] = None) -> torch.Tensor:
    """Similarity ``H (..., 3, 3)`` mapping pixel coordinates to ~unit ones
    (``x_n = H @ (u, v, 1)``). Give exactly one of:

    * ``points (..., N, 2)``: Hartley's normalisation of a point set: the
      centroid goes to the origin and the mean distance to it becomes sqrt(2);
    * ``image_size (..., 2)`` as ``(width, height)``: the image centre goes to the
      origin and the image to ``[-1, 1]`` along its longer side
      (scale ``2 / max(width, height)``);
    * ``camera (..., 3, 4)``: ``P = K [R | t]`` up to scale; the principal point
      goes to the origin and the scale is ``1 / f`` with ``f`` the RMS of
      ``f_x, f_y`` (read from ``K K^T ~ M M^T``, ``M = P[:, :3]``, zero skew
      assumed), i.e. an isotropic approximation of ``K^-1``: coordinates become
      tangents of viewing angles, independent of the image resolution.
    """
    if sum(v is not None for v in (points, image_size, camera)) != 1:
        raise ValueError('normalizing_transform: give exactly one of points, image_size, camera')
    if points is not None:
        pts, = _floats(points)
        c = pts.mean(-2)
        d = _safe_norm(pts - c[..., None, :], -1).mean(-1)
        s = (2.0 ** 0.5) / d.clamp(min=torch.finfo(pts.dtype).eps)
        cx, cy = c.unbind(-1)
    elif image_size is not None:
        size, = _floats(image_size)
        w, h = size.unbind(-1)
        s, cx, cy = 2.0 / torch.maximum(w, h), w / 2, h / 2
    else:
        P, = _floats(camera)
        M = P[..., :3]
        S = M @ M.transpose(-1, -2)
        S = S / S[..., 2:, 2:]                                    # now K K^T
        cx, cy = S[..., 0, 2], S[..., 1, 2]
        f2 = 0.5 * (S[..., 0, 0] - cx * cx + S[..., 1, 1] - cy * cy)
        s = 1.0 / torch.sqrt(f2.clamp(min=torch.finfo(P.dtype).eps))
    o, one = torch.zeros_like(s), torch.ones_like(s)
    return torch.stack([s, o, -s * cx, o, s, -s * cy, o, o, one], -1).reshape(s.shape + (3, 3))


def _normalized_problem(P1, P2, P3, image_size, transforms):
    """``(T_hat, H1, H2, H3)``: T of the normalised cameras ``H_v P_v`` scaled to
    unit Frobenius norm."""
    if transforms is not None:
        H = _floats(*transforms)
    elif image_size is not None:
        H = (normalizing_transform(image_size=image_size),) * 3
    else:
        H = tuple(normalizing_transform(camera=P) for P in (P1, P2, P3))
    H1, H2, H3 = _floats(*H, P1)[:3]
    T = trifocal_tensor(H1 @ P1, H2 @ P2, H3 @ P3)
    T = T / _safe_norm(T, (-3, -2, -1)).clamp(min=torch.finfo(T.dtype).tiny)[..., None, None,
                                                                             None]
    return T, H1, H2, H3


def _apply(H: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return (H @ _homogeneous(x)[..., None])[..., 0]


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == 'none':
        return loss
    if reduction == 'mean':
        return loss.mean()
    if reduction == 'sum':
        return loss.sum()
    raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def trifocal_loss(x1_pred: TensorLike, x2: TensorLike, x3: TensorLike, P1: TensorLike,
                  P2: TensorLike, P3: TensorLike, normalize: bool = True,
                  reduction: str = 'none', image_size: Optional[TensorLike] = None,
                  transforms: Optional[Sequence[TensorLike]] = None) -> torch.Tensor:
    """Occlusion-Net's trifocal tensor loss (Eq. 9) per point.

    Args:
        x1_pred: ``(..., 2)`` predicted pixel position in view 1 (the view where
            the keypoint is occluded); the loss is differentiable w.r.t. it.
        x2, x3: ``(..., 2)`` observed pixel positions in views 2 and 3.
        P1, P2, P3: ``(..., 3, 4)`` (or ``(3, 4)``) pixel cameras ``K [R | t]``.
        normalize: see below; ``False`` gives the raw algebraic residual.
        reduction: ``'none'`` (shape ``(...)``), ``'mean'`` or ``'sum'``.
        image_size: ``(width, height)`` (broadcastable ``(..., 2)``): normalise
            every view by :func:`normalizing_transform` ``(image_size=...)``
            instead of by its camera.
        transforms: explicit ``(H1, H2, H3)``, each ``(..., 3, 3)``; overrides
            ``image_size``. Must not depend on ``x1_pred``.

    Definition with ``normalize=True`` (``~x = (u, v, 1)``):

    1. ``H_v`` = ``transforms[v]``, else ``normalizing_transform(image_size=...)``,
       else ``normalizing_transform(camera=P_v)`` (default: principal point to the
       origin, scale ``1/f``, so coordinates are ~unit whatever the resolution);
    2. ``T = trifocal_tensor(H1 P1, H2 P2, H3 P3)``, ``T_hat = T / ||T||_F`` (removes
       the arbitrary scale of each camera and the scene's unit of length);
    3. ``y1 = H1 ~x1_pred`` (third coordinate stays 1, so the residual is affine
       and the loss convex in ``x1_pred``), ``y2 = H2 ~x2 / ||H2 ~x2||``,
       ``y3 = H3 ~x3 / ||H3 ~x3||``;
    4. ``loss = || [y2]_x (sum_i y1^i T_hat_i) [y3]_x ||_F`` (not squared).

    With ``normalize=False``: ``loss = || [~x2]_x (sum_i ~x1^i T_i) [~x3]_x ||_F`` with
    ``T = trifocal_tensor(P1, P2, P3)`` of the raw pixel cameras.

    The loss is 0 exactly at the transferred point and grows about linearly with
    the distance to it; in the default normalisation it is dimensionless, of the
    order of (pixel error / focal length), so weight it accordingly. For an
    interpretable metric use :func:`trifocal_transfer_error` (pixels). The
    gradient at the minimum is taken as 0.
    """
    x1_pred, x2, x3, P1, P2, P3 = _floats(x1_pred, x2, x3, P1, P2, P3)
    if normalize:
        T, H1, H2, H3 = _normalized_problem(P1, P2, P3, image_size, transforms)
        y1 = _apply(H1, x1_pred)
        y2, y3 = _apply(H2, x2), _apply(H3, x3)
        y2 = y2 / _safe_norm(y2, -1)[..., None]
        y3 = y3 / _safe_norm(y3, -1)[..., None]
    else:
        T = trifocal_tensor(P1, P2, P3)
        y1, y2, y3 = x1_pred, x2, x3
    r = incidence_residual(T, y1, y2, y3)
    return _reduce(_safe_norm(r, (-2, -1)), reduction)


def trifocal_transfer(x2: TensorLike, x3: TensorLike, P1: TensorLike, P2: TensorLike,
                      P3: TensorLike, normalize: bool = True,
                      image_size: Optional[TensorLike] = None,
                      transforms: Optional[Sequence[TensorLike]] = None) -> torch.Tensor:
    """Pixel position ``(..., 2)`` in view 1 of the point seen at ``x2`` (view 2)
    and ``x3`` (view 3): :func:`transfer_point` with the (by default normalised,
    as in :func:`trifocal_loss`) tensor, mapped back to view-1 pixels."""
    x2, x3, P1, P2, P3 = _floats(x2, x3, P1, P2, P3)
    if not normalize:
        return transfer_point(trifocal_tensor(P1, P2, P3), x2, x3)
    T, H1, H2, H3 = _normalized_problem(P1, P2, P3, image_size, transforms)
    y1 = transfer_point(T, _apply(H2, x2), _apply(H3, x3))
    return _dehomogenize(_apply(torch.linalg.inv(H1), y1))


def trifocal_transfer_error(x1_pred: TensorLike, x2: TensorLike, x3: TensorLike,
                            P1: TensorLike, P2: TensorLike, P3: TensorLike,
                            normalize: bool = True, reduction: str = 'none',
                            image_size: Optional[TensorLike] = None,
                            transforms: Optional[Sequence[TensorLike]] = None,
                            return_transfer: bool = False):
    """Pixel distance ``(...)`` between ``x1_pred`` and :func:`trifocal_transfer` of
    ``(x2, x3)``: an interpretable companion of :func:`trifocal_loss` (same
    arguments). With ``return_transfer=True`` returns ``(error, transferred (..., 2))``.
    """
    x1_pred, = _floats(x1_pred)
    x1_t = trifocal_transfer(x2, x3, P1, P2, P3, normalize, image_size, transforms)
    x1_pred, x1_t = _floats(x1_pred, x1_t)
    err = _reduce(_safe_norm(x1_pred - x1_t, -1), reduction)
    return (err, x1_t) if return_transfer else err

import numpy as np
import pytest
import torch

from kplink_mm.geometry.camera import intrinsics, look_at, project_points, projection_matrix
from kplink_mm.geometry.trifocal import (incidence_residual, normalizing_transform,
                                         transfer_point, trifocal_loss, trifocal_tensor,
                                         trifocal_transfer, trifocal_transfer_error)

F64 = torch.float64
CAMS = (((8.0, 1.0, 3.0), 800.0, (320.0, 240.0)),
        ((1.0, 9.0, 4.0), 600.0, (330.0, 250.0)),
        ((-6.0, -5.0, 2.5), 700.0, (310.0, 235.0)))


def _scene(num_points=40, seed=0, cams=CAMS):
    """Three look_at cameras around a random cloud -> (X, [P_v], [uv_v])."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(num_points, 3))
    Ps, uvs = [], []
    for eye, f, (cx, cy) in cams:
        K = intrinsics(f, cx, cy)
        R, t = look_at(eye, (0.0, 0.0, 0.0))
        uv, depth = project_points(X, K, R, t)
        assert (depth > 0).all()
        Ps.append(projection_matrix(K, R, t))
        uvs.append(uv)
    return X, Ps, uvs


def _directions(n, seed=1):
    d = np.random.default_rng(seed).normal(size=(n, 2))
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _canonical_tensor(P2, P3):
    """H&Z's canonical form for P1 = [I | 0]: T_i = a_i b4^T - a4 b_i^T."""
    A, a4, B, b4 = P2[:, :3], P2[:, 3], P3[:, :3], P3[:, 3]
    return np.stack([np.outer(A[:, i], b4) - np.outer(a4, B[:, i]) for i in range(3)])


def _unit(T):
    T = np.asarray(T, dtype=np.float64)
    return T / np.linalg.norm(T)


def test_general_formula_equals_canonical_form_for_identity_first_camera():
    rng = np.random.default_rng(3)
    P1 = np.hstack([np.eye(3), np.zeros((3, 1))])
    P2, P3 = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    T = trifocal_tensor(P1, P2, P3)
    assert T.shape == (3, 3, 3) and T.dtype == F64
    np.testing.assert_allclose(T.numpy(), _canonical_tensor(P2, P3), atol=1e-12, rtol=0)


def test_general_formula_matches_canonical_form_after_a_change_of_frame():
    # T is invariant (up to scale) under X -> H X; choose H so that P1 H = [I | 0]
    _, (P1, P2, P3), _ = _scene()
    H = np.linalg.inv(np.vstack([P1, [0.0, 0.0, 0.0, 1.0]]))
    np.testing.assert_allclose(P1 @ H, np.hstack([np.eye(3), np.zeros((3, 1))]), atol=1e-9)
    T = _unit(trifocal_tensor(P1, P2, P3))
    Tc = _unit(_canonical_tensor(P2 @ H, P3 @ H))
    sign = np.sign((T * Tc).sum())
    np.testing.assert_allclose(T, sign * Tc, atol=1e-10, rtol=0)


def test_residual_vanishes_for_true_correspondences():
    _, Ps, (x1, x2, x3) = _scene()
    T = trifocal_tensor(*Ps)
    r = incidence_residual(T, x1, x2, x3)
    assert r.shape == (40, 3, 3)
    h = [np.linalg.norm(np.hstack([x, np.ones((len(x), 1))]), axis=1) for x in (x1, x2, x3)]
    scale = T.norm().item() * h[0] * h[1] * h[2]
    rel = r.flatten(1).norm(dim=1).numpy() / scale
    assert rel.max() < 1e-12
    # a wrong correspondence is far from zero on the same scale
    r_bad = incidence_residual(T, x1[::-1].copy(), x2, x3)
    assert (r_bad.flatten(1).norm(dim=1).numpy() / scale).min() > 1e-6
    # homogeneous input: the residual is linear in each homogeneous vector
    x2h = np.hstack([x2, np.ones((40, 1))]) * 3.0
    xw = x1 + 7.0                                  # off the truth, so r is not ~0
    torch.testing.assert_close(incidence_residual(T, xw, x2h, x3),
                               3.0 * incidence_residual(T, xw, x2, x3), rtol=1e-9, atol=0)


def test_residual_and_loss_grow_monotonically_with_pixel_error():
    _, Ps, (x1, x2, x3) = _scene()
    d = _directions(len(x1))
    T = trifocal_tensor(*Ps)
    raw, loss, err = [], [], []
    for e in (0.0, 1.0, 5.0, 20.0):
        xp = x1 + e * d
        raw.append(incidence_residual(T, xp, x2, x3).flatten(1).norm(dim=1).numpy())
        loss.append(trifocal_loss(xp, x2, x3, *Ps).numpy())
        err.append(trifocal_transfer_error(xp, x2, x3, *Ps).numpy())
    for values in (raw, loss):
        v = np.stack(values)                       # (4 errors, points)
        assert (np.diff(v, axis=0) > 0).all()
        assert v[0].max() < 1e-6 * v[1].min()     # ~0 at the truth, relative to 1 px
    np.testing.assert_allclose(np.stack(err), np.array([0.0, 1, 5, 20])[:, None]
                               * np.ones((1, 40)), atol=1e-8)
    # the loss is affine in x1, so its norm grows linearly along a ray from the truth
    np.testing.assert_allclose(loss[3], 20 * loss[1], rtol=1e-7)


def test_transfer_point_recovers_view_one():
    _, Ps, (x1, x2, x3) = _scene(seed=4)
    # raw pixel tensor (entries ~1e12): still sub-millipixel
    x1_t = transfer_point(trifocal_tensor(*Ps), x2, x3).numpy()
    assert np.abs(x1_t - x1).max() < 1e-3
    assert (np.linalg.norm(x1_t - x1, axis=1) / np.linalg.norm(x1, axis=1)).max() < 1e-6
    # normalised cameras: far better
    x1_n = trifocal_transfer(x2, x3, *Ps).numpy()
    assert np.abs(x1_n - x1).max() < 1e-8
    err, xt = trifocal_transfer_error(x1, x2, x3, *Ps, return_transfer=True)
    assert err.max() < 1e-8 and xt.shape == (40, 2)
    # a degenerate item (here a zero tensor) does not break the batch
    T = torch.stack([trifocal_tensor(*Ps), torch.zeros(3, 3, 3, dtype=F64)])
    out = transfer_point(T, x2[:2], x3[:2])
    assert torch.isfinite(out).all()
    assert np.abs(out[0].numpy() - x1[0]).max() < 1e-3


def test_normalizing_transforms():
    rng = np.random.default_rng(5)
    pts = rng.uniform(0, 640, size=(4, 30, 2))
    H = normalizing_transform(points=pts)
    y = (H @ torch.as_tensor(np.concatenate([pts, np.ones((4, 30, 1))], -1)).transpose(1, 2))
    y = y.transpose(1, 2)[..., :2]
    torch.testing.assert_close(y.mean(1), torch.zeros(4, 2, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(y.norm(dim=-1).mean(1), torch.full((4,), 2 ** 0.5, dtype=F64))

    H = normalizing_transform(image_size=torch.tensor([640.0, 480.0], dtype=F64))
    corners = torch.tensor([[0.0, 0.0, 1.0], [640.0, 480.0, 1.0]], dtype=F64)
    torch.testing.assert_close(corners @ H.T, torch.tensor([[-1.0, -0.75, 1.0],
                                                            [1.0, 0.75, 1.0]], dtype=F64))

    # from a camera K [R | t] of any scale/sign: H == K^-1 (square pixels, no skew)
    K = intrinsics(750.0, 300.0, 200.0)
    R, t = look_at((3.0, 2.0, 1.0), (0.0, 0.0, 0.0))
    for s in (1.0, -4.0, 1e-3):
        H = normalizing_transform(camera=s * projection_matrix(K, R, t))
        np.testing.assert_allclose(H.numpy() @ K, np.eye(3), atol=1e-12)

    with pytest.raises(ValueError, match='exactly one'):
        normalizing_transform()


def test_loss_is_zero_at_truth_positive_off_it_and_invariant_to_camera_scale():
    _, Ps, (x1, x2, x3) = _scene(seed=6)
    d = _directions(len(x1), seed=7)
    at_truth = trifocal_loss(x1, x2, x3, *Ps)
    off = trifocal_loss(x1 + 3 * d, x2, x3, *Ps)
    assert at_truth.shape == (40,) and at_truth.max() < 1e-12
    assert off.min() > 1e3 * max(at_truth.max().item(), 1e-15)
    # P is defined up to scale (and sign): the normalised loss must not care, nor
    # about the unit of length of the scene (metres -> millimetres)
    P1, P2, P3 = Ps
    torch.testing.assert_close(trifocal_loss(x1 + 3 * d, x2, x3, -2 * P1, 1e3 * P2, 0.1 * P3),
                               off)
    S = np.diag([1e-3, 1e-3, 1e-3, 1.0])            # X_mm = 1000 X_m
    torch.testing.assert_close(trifocal_loss(x1 + 3 * d, x2, x3, P1 @ S, P2 @ S, P3 @ S), off)
    # reductions, image-size normalisation and float32
    assert trifocal_loss(x1 + 3 * d, x2, x3, *Ps, reduction='mean').item() == pytest.approx(
        off.mean().item())
    assert trifocal_loss(x1 + 3 * d, x2, x3, *Ps, reduction='sum').item() == pytest.approx(
        off.sum().item())
    by_size = trifocal_loss(x1 + 3 * d, x2, x3, *Ps, image_size=(640.0, 480.0))
    assert (by_size > 0).all() and trifocal_loss(x1, x2, x3, *Ps, image_size=(640, 480)
                                                 ).max() < 1e-12
    f32 = trifocal_loss(torch.as_tensor(x1 + 3 * d, dtype=torch.float32),
                        torch.as_tensor(x2, dtype=torch.float32),
                        torch.as_tensor(x3, dtype=torch.float32),
                        *(torch.as_tensor(P, dtype=torch.float32) for P in Ps))
    assert f32.dtype == torch.float32
    torch.testing.assert_close(f32.double(), off, rtol=1e-2, atol=0)
    with pytest.raises(ValueError, match='reduction'):
        trifocal_loss(x1, x2, x3, *Ps, reduction='avg')


def test_batched_cameras_match_per_point_cameras():
    _, Ps_a, (a1, a2, a3) = _scene(num_points=5, seed=8)
    cams_b = tuple((tuple(np.array(e) * 1.3), f * 0.9, c) for e, f, c in CAMS[::-1])
    _, Ps_b, (b1, b2, b3) = _scene(num_points=5, seed=9, cams=cams_b)
    d = _directions(10, seed=10) * 4
    x1 = np.concatenate([a1, b1]) + d
    x2, x3 = np.concatenate([a2, b2]), np.concatenate([a3, b3])
    P = [torch.as_tensor(np.stack([pa] * 5 + [pb] * 5)) for pa, pb in zip(Ps_a, Ps_b)]
    batched = trifocal_loss(x1, x2, x3, *P)
    loop = torch.cat([trifocal_loss(x1[:5], x2[:5], x3[:5], *Ps_a),
                      trifocal_loss(x1[5:], x2[5:], x3[5:], *Ps_b)])
    torch.testing.assert_close(batched, loop)
    assert trifocal_tensor(*P).shape == (10, 3, 3, 3)


def test_gradient_points_to_the_truth_and_descent_converges():
    _, Ps, (x1, x2, x3) = _scene(seed=11)
    truth = torch.as_tensor(x1)
    x = (truth + 10 * torch.as_tensor(_directions(len(x1), seed=12))).requires_grad_(True)
    (g,) = torch.autograd.grad(trifocal_loss(x, x2, x3, *Ps).sum(), x)
    to_truth = truth - x.detach()
    cos = (-g * to_truth).sum(-1) / (g.norm(dim=-1) * to_truth.norm(dim=-1))
    assert (cos > 0.3).all()
    # plain gradient descent with Polyak's step (the optimum value is known: 0)
    errors = [trifocal_transfer_error(x.detach(), x2, x3, *Ps).max().item()]
    for _ in range(6):
        loss = trifocal_loss(x, x2, x3, *Ps)
        (g,) = torch.autograd.grad(loss.sum(), x)
        with torch.no_grad():
            x -= (loss / (g * g).sum(-1).clamp(min=1e-30))[:, None] * g
        errors.append(trifocal_transfer_error(x.detach(), x2, x3, *Ps).max().item())
    assert errors[0] == pytest.approx(10.0)
    assert errors[-1] < 0.5
    assert all(b < a for a, b in zip(errors, errors[1:]))
    # and the gradient is finite (0) exactly at the optimum
    xt = truth.clone().requires_grad_(True)
    (g0,) = torch.autograd.grad(trifocal_loss(xt, x2, x3, *Ps).sum(), xt)
    assert torch.isfinite(g0).all()

import numpy as np

from kplink_mm.datasets.synth.render import (finish_image, procedural_background, rasterize,
                                             sample_appearance)
from kplink_mm.geometry.camera import intrinsics, look_at

K = intrinsics(100.0, 32.0, 32.0)


def _quad(x0, x1, y0, y1, z):
    """A camera-facing square at depth z (counter-clockwise seen from the camera)."""
    v = np.array([[x0, y0, z], [x0, y1, z], [x1, y1, z], [x1, y0, z]], float)
    return v, np.array([[0, 1, 2], [0, 2, 3]])


def test_square_coverage_and_depth():
    # x in [-0.16, 0.16] at z=1 -> u in [16, 48): pixel columns 16..47 (centres 16.5..47.5)
    v, f = _quad(-0.16, 0.16, -0.08, 0.08, 1.0)
    depth, fid = rasterize(v, f, K, 64, 64)
    cols = np.nonzero((fid >= 0).any(0))[0]
    rows = np.nonzero((fid >= 0).any(1))[0]
    assert cols.min() == 16 and cols.max() == 47
    assert rows.min() == 24 and rows.max() == 39
    assert (fid >= 0).sum() == 32 * 16
    np.testing.assert_allclose(depth[fid >= 0], 1.0, rtol=1e-6)
    assert np.isinf(depth[fid < 0]).all()


def test_backface_culling_and_near_plane():
    v, f = _quad(-0.1, 0.1, -0.1, 0.1, 1.0)
    _, fid = rasterize(v, f[:, ::-1], K, 64, 64)
    assert (fid < 0).all(), 'back faces must be culled'
    _, fid = rasterize(v, f[:, ::-1], K, 64, 64, cull_backfaces=False)
    assert (fid >= 0).any()
    v2, f2 = _quad(-0.1, 0.1, -0.1, 0.1, 0.01)
    _, fid = rasterize(v2, f2, K, 64, 64, near=0.05)
    assert (fid < 0).all(), 'triangles in front of the near plane are dropped'


def test_z_test_nearest_wins_regardless_of_order():
    va, fa = _quad(-0.5, 0.5, -0.5, 0.5, 2.0)
    vb, fb = _quad(-0.1, 0.1, -0.1, 0.1, 1.0)
    for order in (0, 1):
        if order == 0:
            v, f = np.vstack([va, vb]), np.vstack([fa, fb + 4])
            near_faces = (2, 3)
        else:
            v, f = np.vstack([vb, va]), np.vstack([fb, fa + 4])
            near_faces = (0, 1)
        depth, fid = rasterize(v, f, K, 64, 64)
        assert np.isin(fid[32, 32], near_faces)
        assert depth[32, 32] == np.float32(1.0)
        assert np.isclose(depth[32, 12], 2.0)


def test_perspective_correct_depth_on_tilted_plane():
    # plane z = 2 + 0.5 x seen by a camera at the origin
    xs = np.array([-1.0, 1.0])
    v = np.array([[x, y, 2 + 0.5 * x] for x in xs for y in (-1.0, 1.0)])
    f = np.array([[0, 1, 3], [0, 3, 2]])
    depth, fid = rasterize(v, f, K, 64, 64, cull_backfaces=False)
    ii, jj = np.nonzero(fid >= 0)
    u = (jj + 0.5 - 32) / 100.0          # x / z of the pixel ray
    # ray (u, w, 1) * z hits z = 2 + 0.5 u z  ->  z = 2 / (1 - 0.5 u)
    np.testing.assert_allclose(depth[ii, jj], 2 / (1 - 0.5 * u), rtol=1e-5)


def test_background_and_finish_are_deterministic():
    R, t = look_at((8.0, 0.0, 3.0), (0.0, 0.0, 0.5))
    Kb = intrinsics(120.0, 64.0, 64.0)
    outs = []
    for _ in range(2):
        rng = np.random.default_rng(5)
        app = sample_appearance(rng, scale=2.0)
        bg = procedural_background(rng, app, Kb, R, t, 128, 128)
        outs.append(finish_image(bg, rng, 0.8, 3.0))
    assert outs[0].dtype == np.uint8 and outs[0].shape == (128, 128, 3)
    np.testing.assert_array_equal(outs[0], outs[1])
    assert outs[0].std() > 3, 'background should not be flat'

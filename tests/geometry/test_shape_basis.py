import numpy as np
import pytest
import torch

from kplink_mm.geometry.shape_basis import (compose_shape, fit_shape_basis, load_shape_bases,
                                            project_to_basis, save_shape_bases)

N = 6
TRUE_SIGMAS = np.array([3.0, 1.5, 0.5])


def _known_modes(seed=0):
    """Mean + 3 orthonormal modes (flattened (3, 3N)) with std 3, 1.5 and 0.5."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(3 * N, 3)))
    mean = rng.normal(size=(N, 3))
    return mean, q.T


def _samples(M=4000, seed=0):
    mean, modes = _known_modes(seed)
    rng = np.random.default_rng(seed + 100)
    z = rng.standard_normal((M, 3))
    # exact unit variance and decorrelated coefficients: the fit must then be exact
    z = z - z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T))).T
    shapes = mean + ((z * TRUE_SIGMAS) @ modes).reshape(M, N, 3)
    return shapes, mean, modes


def test_known_modes_are_recovered():
    shapes, mean, modes = _samples()
    basis = fit_shape_basis(shapes, 3)
    assert basis['mean'].shape == (N, 3) and basis['components'].shape == (3, N, 3)
    np.testing.assert_allclose(basis['mean'], mean, atol=1e-10)
    np.testing.assert_allclose(basis['sigmas'], TRUE_SIGMAS, rtol=1e-10)
    flat = basis['components'].reshape(3, -1)
    np.testing.assert_allclose(flat @ flat.T, np.eye(3), atol=1e-12)
    for k in range(3):                       # match up to sign
        assert abs(abs(flat[k] @ modes[k]) - 1) < 1e-10
    # the data has no other variance: the ratios sum to 1 and are sorted
    evr = basis['explained_variance_ratio']
    np.testing.assert_allclose(evr, TRUE_SIGMAS ** 2 / (TRUE_SIGMAS ** 2).sum(), rtol=1e-10)
    # training coefficients are standardised
    beta = project_to_basis(shapes, basis)
    np.testing.assert_allclose(beta.std(0, ddof=1), np.ones(3), rtol=1e-10)


def test_fewer_components_and_limits():
    shapes, _, modes = _samples(M=500)
    basis = fit_shape_basis(shapes, 2)
    assert basis['sigmas'].shape == (2,)
    assert basis['explained_variance_ratio'].sum() < 1.0
    assert abs(abs(basis['components'][0].ravel() @ modes[0]) - 1) < 1e-10
    with pytest.raises(ValueError, match='num_components'):
        fit_shape_basis(shapes[:3], 3)           # 3 shapes support at most 2 components
    with pytest.raises(ValueError, match=r'\(M, N, 3\)'):
        fit_shape_basis(shapes.reshape(500, -1), 2)


def test_compose_project_round_trip():
    shapes, _, _ = _samples(M=200)
    basis = fit_shape_basis(shapes, 3)
    beta = torch.randn(7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    W = compose_shape(basis['mean'], basis['sigmas'], basis['components'], beta)
    assert W.shape == (7, N, 3) and W.dtype == torch.float64
    torch.testing.assert_close(project_to_basis(W, basis), beta, atol=1e-10, rtol=0)
    # shapes in the span come back exactly; beta = 0 is the mean
    np.testing.assert_allclose(
        compose_shape(basis['mean'], basis['sigmas'], basis['components'],
                      torch.as_tensor(project_to_basis(shapes, basis))).numpy(), shapes,
        atol=1e-10)
    np.testing.assert_allclose(
        compose_shape(basis['mean'], basis['sigmas'], basis['components'],
                      torch.zeros(1, 3, dtype=torch.float64))[0].numpy(), basis['mean'])
    # k-th coefficient moves the shape by sigma_k along b_k
    e0 = torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64)
    d = compose_shape(basis['mean'], basis['sigmas'], basis['components'], e0)[0].numpy() \
        - basis['mean']
    np.testing.assert_allclose(d, basis['sigmas'][0] * basis['components'][0], atol=1e-12)


def test_compose_is_differentiable_and_checks_sizes():
    shapes, _, _ = _samples(M=50)
    basis = fit_shape_basis(shapes, 3)
    beta = torch.zeros(2, 3, dtype=torch.float64, requires_grad=True)
    W = compose_shape(basis['mean'], basis['sigmas'], basis['components'], beta)
    (g,) = torch.autograd.grad((W ** 2).sum(), beta)
    assert torch.isfinite(g).all() and g.abs().sum() > 0
    with pytest.raises(ValueError, match='number of components'):
        compose_shape(basis['mean'], basis['sigmas'], basis['components'], torch.zeros(2, 4))


def test_save_load_round_trip(tmp_path):
    s1, _, _ = _samples(M=100, seed=1)
    s2, _, _ = _samples(M=100, seed=2)
    bases = {'car': fit_shape_basis(s1, 3), 'chair': fit_shape_basis(s2, 2)}
    bases['car']['keypoint_names'] = np.array([f'kp{i}' for i in range(N)])
    path = tmp_path / 'sub' / 'bases.npz'
    save_shape_bases(path, bases)
    assert path.is_file()
    with np.load(path) as z:
        assert 'car/mean' in z.files and 'chair/components' in z.files
    loaded = load_shape_bases(path)
    assert set(loaded) == {'car', 'chair'}
    for cat, basis in bases.items():
        assert set(loaded[cat]) == set(basis)
        for key, value in basis.items():
            np.testing.assert_array_equal(loaded[cat][key], value)


def test_malformed_file_names_file_and_missing_key(tmp_path):
    shapes, _, _ = _samples(M=50)
    basis = fit_shape_basis(shapes, 2)
    path = tmp_path / 'broken.npz'
    np.savez(path, **{'car/mean': basis['mean'], 'car/components': basis['components']})
    with pytest.raises(ValueError, match=r"broken\.npz.*missing key 'car/sigmas'"):
        load_shape_bases(path)

    path2 = tmp_path / 'flat.npz'
    np.savez(path2, mean=basis['mean'])
    with pytest.raises(ValueError, match=r"flat\.npz.*'mean'"):
        load_shape_bases(path2)

    path3 = tmp_path / 'shapes.npz'
    np.savez(path3, **{'car/mean': basis['mean'], 'car/components': basis['components'],
                       'car/sigmas': np.ones(5)})
    with pytest.raises(ValueError, match=r'shapes\.npz.*car'):
        load_shape_bases(path3)

    garbage = tmp_path / 'garbage.npz'
    garbage.write_bytes(b'not a zip file')
    with pytest.raises(ValueError, match='garbage.npz'):
        load_shape_bases(garbage)
    with pytest.raises(FileNotFoundError, match='nothere.npz'):
        load_shape_bases(tmp_path / 'nothere.npz')

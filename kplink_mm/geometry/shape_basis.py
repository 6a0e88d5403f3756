"""PCA shape bases of 3D keypoints (Occlusion-Net 3D-KGNN, Sec. 3.2).

A basis for ``N`` keypoints with ``K`` components is a dict of numpy arrays

* ``mean (N, 3)``: the mean shape ``b0``;
* ``components (K, N, 3)``: principal directions ``b_k``, orthonormal when
  flattened to ``(K, 3N)``, sorted by decreasing variance, sign fixed so that the
  entry of largest magnitude of each is positive (deterministic output);
* ``sigmas (K,)``: the standard deviation (ddof=1) of the training shapes'
  coefficients along ``b_k``;
* ``explained_variance_ratio (K,)``: ``sigma_k^2 / total variance``.

A shape is ``W = b0 + sum_k beta_k sigma_k b_k`` (paper / REFERENCE.md), so the
coefficients ``beta`` of the training shapes have unit variance (~ N(0, 1) for
Gaussian data). Bases written by ``tools/dataset_converters/build_shape_basis.py``
also carry ``keypoint_names (N,)`` and ``scale`` (metres per unit of the
normalised object frame); extra entries are kept by save/load.
"""
import os
import os.path as osp
import zipfile
from typing import Dict

import numpy as np
import torch

from .quaternion import TensorLike

__all__ = ['fit_shape_basis', 'compose_shape', 'project_to_basis', 'save_shape_bases',
           'load_shape_bases', 'SHAPE_BASIS_KEYS']

#: entries every basis must have in a file
SHAPE_BASIS_KEYS = ('mean', 'components', 'sigmas')


def fit_shape_basis(shapes: np.ndarray, num_components: int) -> Dict[str, np.ndarray]:
    """PCA of ``shapes (M, N, 3)`` (already aligned: no centring or rotation is
    done beyond subtracting the mean shape) keeping ``num_components`` components.

    Raises ``ValueError`` if ``num_components`` exceeds ``min(M - 1, 3N)``, the
    rank centred data can have. Components of (numerically) zero variance are
    returned as they come but make :func:`project_to_basis` ill-posed; callers
    should cap ``K`` at the data's rank (the build tool does).
    """
    shapes = np.asarray(shapes, dtype=np.float64)
    if shapes.ndim != 3 or shapes.shape[-1] != 3:
        raise ValueError(f'fit_shape_basis expects (M, N, 3) shapes, got {shapes.shape}')
    M, N, _ = shapes.shape
    K = int(num_components)
    if not 1 <= K <= min(M - 1, 3 * N):
        raise ValueError(f'fit_shape_basis: num_components={K} must be in [1, min(M-1, 3N)] '
                         f'= [1, {min(M - 1, 3 * N)}] for {M} shapes of {N} keypoints')
    flat = shapes.reshape(M, 3 * N)
    mean = flat.mean(0)
    _, s, vt = np.linalg.svd(flat - mean, full_matrices=False)
    comps = vt[:K]
    # SVD signs are arbitrary; make them reproducible
    big = np.abs(comps).argmax(1)
    comps = comps * np.sign(comps[np.arange(K), big])[:, None]
    var = s ** 2 / (M - 1)
    total = var.sum()
    return dict(mean=mean.reshape(N, 3), components=comps.reshape(K, N, 3),
                sigmas=np.sqrt(var[:K]),
                explained_variance_ratio=var[:K] / total if total > 0 else np.zeros(K))


def _basis_tensors(basis, like: torch.Tensor):
    def conv(x):
        return torch.as_tensor(np.asarray(x) if not torch.is_tensor(x) else x,
                               dtype=like.dtype, device=like.device)
    return conv(basis['mean']), conv(basis['sigmas']), conv(basis['components'])


def compose_shape(mean: TensorLike, sigmas: TensorLike, components: TensorLike,
                  beta: TensorLike) -> torch.Tensor:
    """``W = mean + sum_k beta_k sigma_k b_k``: ``mean (N, 3)``, ``sigmas (K,)``,
    ``components (K, N, 3)``, ``beta (B, K)`` (any leading dims) -> ``(B, N, 3)``.
    Differentiable w.r.t. every argument; the dtype/device are ``beta``'s."""
    beta = torch.as_tensor(beta)
    if not beta.is_floating_point():
        beta = beta.to(torch.get_default_dtype())
    mean, sigmas, components = _basis_tensors(
        dict(mean=mean, sigmas=sigmas, components=components), beta)
    K = components.shape[0]
    if beta.shape[-1] != K or sigmas.shape != (K,):
        raise ValueError(f'compose_shape: beta {tuple(beta.shape)}, sigmas '
                         f'{tuple(sigmas.shape)} and components {tuple(components.shape)} '
                         'disagree on the number of components')
    return mean + torch.einsum('...k,kni->...ni', beta * sigmas, components)


def project_to_basis(shapes: TensorLike, basis: Dict[str, TensorLike]):
    """Least-squares coefficients ``beta (..., K)`` of ``shapes (..., N, 3)``:
    ``argmin_beta || shapes - compose_shape(..., beta) ||``. Exact (round trip)
    for shapes in the span of the basis. Returns a torch tensor for a tensor
    input (differentiable), else a numpy array."""
    is_tensor = torch.is_tensor(shapes)
    x = torch.as_tensor(shapes)
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    mean, sigmas, components = _basis_tensors(basis, x)
    K = components.shape[0]
    B = (components * sigmas[:, None, None]).reshape(K, -1).T          # (3N, K)
    d = (x - mean).flatten(-2)                                          # (..., 3N)
    # pinv rather than B.T: exact least squares even if the stored components are
    # not perfectly orthonormal (e.g. a float32 file)
    beta = d @ torch.linalg.pinv(B).T
    return beta if is_tensor else beta.detach().cpu().numpy()


def save_shape_bases(path: str, bases: Dict[str, Dict[str, np.ndarray]]) -> None:
    """Write ``{category: basis}`` to one ``.npz`` (keys ``<category>/<entry>``,
    e.g. ``car/mean``). Parent folders are created; the file is written under a
    temporary name and renamed, so readers never see a half-written file."""
    arrays = {}
    for cat, basis in bases.items():
        if '/' in cat:
            raise ValueError(f"category name {cat!r} must not contain '/'")
        missing = [k for k in SHAPE_BASIS_KEYS if k not in basis]
        if missing:
            raise KeyError(f'shape basis of {cat!r} lacks {missing}')
        for key, value in basis.items():
            arrays[f'{cat}/{key}'] = np.asarray(value)
    path = str(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:          # a file object: numpy won't append '.npz'
        np.savez(f, **arrays)
    os.replace(tmp, path)


def load_shape_bases(path: str) -> Dict[str, Dict[str, np.ndarray]]:
    """Read a file written by :func:`save_shape_bases` -> ``{category: basis}``.

    Raises ``FileNotFoundError`` / ``ValueError`` naming the file when it is
    missing, not an ``.npz``, lacks an entry of :data:`SHAPE_BASIS_KEYS` for a
    category (the message names the key, e.g. ``car/sigmas``) or has inconsistent
    shapes.
    """
    path = str(path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'shape basis file {path} does not exist (build it with '
                                'tools/dataset_converters/build_shape_basis.py)')
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as e:
        raise ValueError(f'cannot read shape basis file {path}: {e}') from e
    bases: Dict[str, Dict[str, np.ndarray]] = {}
    for key, value in arrays.items():
        cat, sep, entry = key.partition('/')
        if not sep or not entry:
            raise ValueError(f"malformed shape basis file {path}: key {key!r} is not "
                             "'<category>/<entry>'")
        bases.setdefault(cat, {})[entry] = value
    if not bases:
        raise ValueError(f'malformed shape basis file {path}: it holds no category')
    for cat, basis in bases.items():
        for k in SHAPE_BASIS_KEYS:
            if k not in basis:
                raise ValueError(f'malformed shape basis file {path}: missing key '
                                 f"'{cat}/{k}' (has {sorted(cat + '/' + e for e in basis)})")
        mean, comps, sig = basis['mean'], basis['components'], basis['sigmas']
        if (mean.ndim != 2 or mean.shape[1] != 3 or comps.ndim != 3
                or comps.shape[1:] != mean.shape or sig.shape != comps.shape[:1]):
            raise ValueError(f'malformed shape basis file {path}: category {cat!r} has '
                             f'mean {mean.shape}, components {comps.shape}, sigmas '
                             f'{sig.shape}; expected (N,3), (K,N,3), (K,)')
    return bases


"""tools/dataset_converters/build_shape_basis.py writes loadable PCA bases."""
import os.path as osp
import runpy

import numpy as np
import pytest

from kplink_mm.datasets.synth.categories import get_category
from kplink_mm.geometry.shape_basis import load_shape_bases, project_to_basis

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'tools/dataset_converters/build_shape_basis.py')


@pytest.fixture(scope='module')
def tool():
    return runpy.run_path(TOOL)


@pytest.fixture(scope='module')
def built(tool, tmp_path_factory):
    import contextlib
    import io
    out = tmp_path_factory.mktemp('basis') / 'nested' / 'shape_basis.npz'
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        bases = tool['main'](['--num-samples', '40', '--categories', 'car', 'chair',
                              '--seed', '3', '--out', str(out)])
    return out, buf.getvalue(), bases


def test_file_keys_and_shapes(built):
    out, _, _ = built
    with np.load(out) as z:
        files = set(z.files)
        assert {'car/mean', 'car/components', 'car/sigmas', 'car/explained_variance_ratio',
                'chair/mean', 'chair/components', 'chair/sigmas'} <= files
        assert not any(f.split('/')[0] not in ('car', 'chair') for f in files)
    bases = load_shape_bases(out)
    car, chair = bases['car'], bases['chair']
    assert car['mean'].shape == (12, 3) and chair['mean'].shape == (10, 3)
    for basis, spec in ((car, get_category('car')), (chair, get_category('chair'))):
        K = len(basis['sigmas'])
        assert 1 <= K <= 5
        assert basis['components'].shape == (K,) + basis['mean'].shape
        flat = basis['components'].reshape(K, -1)
        np.testing.assert_allclose(flat @ flat.T, np.eye(K), atol=1e-10)
        evr = basis['explained_variance_ratio']
        assert (np.diff(evr) <= 0).all() and 0 < evr.sum() <= 1 + 1e-12
        assert (basis['sigmas'] > 0).all()
        assert tuple(basis['keypoint_names']) == spec.keypoint_names
        # the mean is in the canonical frame: close to the category's canonical keypoints
        assert np.abs(basis['mean'] - spec.canonical_keypoints()).max() < 0.1
        assert np.abs(basis['mean']).max() <= 0.75
        assert float(basis['scale']) == pytest.approx(spec.typical_size, rel=0.5)


def test_printed_table_lists_both_categories(built):
    out, text, _ = built
    lines = text.splitlines()
    assert lines[0].split()[:4] == ['category', 'keypoints', 'components', 'explained']
    rows = {ln.split()[0]: ln.split() for ln in lines[1:] if ln.split()[:1] in (['car'],
                                                                                 ['chair'])}
    assert set(rows) == {'car', 'chair'}
    assert rows['car'][1] == '12' and rows['chair'][1] == '10'
    assert str(out) in text


def test_deterministic_and_basis_explains_new_samples(tool, built, tmp_path):
    out, _, _ = built
    again = tmp_path / 'again.npz'
    import contextlib
    import io
    with contextlib.redirect_stdout(io.StringIO()):
        tool['main'](['--num-samples', '40', '--categories', 'car', '--seed', '3',
                      '--out', str(again)])
    a, b = load_shape_bases(out)['car'], load_shape_bases(again)['car']
    np.testing.assert_array_equal(a['components'], b['components'])  # per-category stream
    # the kept components explain most of the variation of unseen instances
    from kplink_mm.datasets.synth.shape_bases import canonical_shapes
    shapes, _ = canonical_shapes(get_category('car'), 20, seed=99)
    beta = project_to_basis(shapes, a)
    recon = a['mean'] + np.einsum('mk,kni->mni', beta * a['sigmas'], a['components'])
    resid = ((shapes - recon) ** 2).sum()
    total = ((shapes - a['mean']) ** 2).sum()
    assert resid < 0.3 * total


def test_unknown_category_exits(tool, tmp_path):
    with pytest.raises(SystemExit, match='unknown kplink-synth category'):
        tool['main'](['--categories', 'spaceship', '--out', str(tmp_path / 'x.npz')])

"""tools/analysis/occlusion_input_ceiling.py: an MLP reads occlusion off the inputs
it is given (exact positions vs initial keypoints) and bad dumps are named."""
import os.path as osp
import pickle
import runpy

import numpy as np
import pytest

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'tools/analysis/occlusion_input_ceiling.py')


def _tool():
    return runpy.run_path(TOOL)


def _samples(n, seed):
    """Occlusion is a function of the exact geometry (a keypoint right of the box
    centre is hidden by the instance itself); the 'initial' keypoints are noise."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        k = 6
        exact = rng.uniform(20, 108, (k, 2))
        states = np.where(exact[:, 0] > 64, 1, 2)
        union = np.zeros((1, 10), int)
        union[0, 2:2 + k] = states
        full = np.zeros((1, 10, 2))
        full[0, 2:2 + k] = exact
        init = rng.uniform(20, 108, (1, 10, 2))
        out.append(dict(
            img_id=i, category_slice=(2, k), category_id=1 + i % 2, keypoint_states=union,
            input_center=np.array([64.0, 64.0]), input_scale=np.array([128.0, 128.0]),
            gt_instances=dict(keypoints=full),
            pred_instances=dict(init_keypoints=init, init_scores=rng.uniform(0, 1, (1, 10))),
            raw_ann_info=dict(instance_id=0, occluders=np.where(states == 1, 0, -1))))
    return out


def test_exact_inputs_reveal_geometric_occlusion_and_noise_does_not(tmp_path, capsys):
    paths = []
    for name, seed, n in (('train', 0, 300), ('val', 1, 100)):
        paths.append(str(tmp_path / f'{name}.pkl'))
        with open(paths[-1], 'wb') as f:
            pickle.dump(_samples(n, seed), f)
    _tool()['main'](paths + ['--epochs', '40'])
    rows = {line.split()[0]: [float(v) for v in line.split()[1:]]
            for line in capsys.readouterr().out.splitlines()
            if line.split() and line.split()[0] in ('init', 'exact')}
    exact_all, exact_self, exact_other = rows['exact']
    assert exact_all > 95 and exact_self > 95 and np.isnan(exact_other)
    assert 35 < rows['init'][0] < 65  # the noise carries no occlusion signal


def test_features_unknown_category_and_bad_dumps_are_named(tmp_path):
    tool = _tool()
    feats = tool['instance_features'](_samples(3, 0), 'exact', [1, 2], 12)
    assert feats['x'].shape == (3, 2 + 12 * 2 + 12 + 12)
    assert feats['labelled'].sum() == 18 and (feats['occluder'][feats['occluded']] == 1).all()
    with pytest.raises(ValueError, match='category_id 2 not among'):
        tool['instance_features'](_samples(3, 0), 'exact', [1], 12)
    with pytest.raises(ValueError, match='inputs must be one of'):
        tool['instance_features'](_samples(1, 0), 'gt', [1, 2], 12)
    empty, corrupt, bare = (tmp_path / n for n in ('empty.pkl', 'corrupt.pkl', 'bare.pkl'))
    empty.write_bytes(pickle.dumps([]))
    corrupt.write_bytes(b'\x00garbage')
    bare.write_bytes(pickle.dumps([dict(img_id=7, category_id=1)]))
    with pytest.raises(SystemExit, match='empty.pkl holds no samples'):
        tool['main']([str(empty), str(empty)])
    with pytest.raises(SystemExit, match='cannot read dump .*corrupt.pkl'):
        tool['main']([str(corrupt), str(empty)])
    with pytest.raises(SystemExit, match=r"bare.pkl: sample 0 \(img_id 7\) lacks 'category_slice'"):
        tool['main']([str(bare), str(bare), '--epochs', '1'])

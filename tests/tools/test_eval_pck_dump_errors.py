"""tools/analysis/eval_pck_dump.py names the file and what is wrong with it."""
import os.path as osp
import pickle
import runpy

import pytest

TOOL = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
                'tools/analysis/eval_pck_dump.py')


def _main():
    return runpy.run_path(TOOL)['main']


def test_empty_prediction_list(tmp_path):
    path = tmp_path / 'empty.pkl'
    path.write_bytes(pickle.dumps([]))
    with pytest.raises(SystemExit, match='empty.pkl holds no predictions'):
        _main()([str(path)])


def test_corrupt_dump(tmp_path):
    path = tmp_path / 'corrupt.pkl'
    path.write_bytes(b'\x00garbage')
    with pytest.raises(SystemExit, match='cannot read dump .*corrupt.pkl'):
        _main()([str(path)])


def test_dump_without_predictions(tmp_path):
    path = tmp_path / 'nopred.pkl'
    path.write_bytes(pickle.dumps([{'gt_instances': {}}]))
    with pytest.raises(SystemExit, match='sample 0 lacks pred_instances'):
        _main()([str(path)])


def test_bad_lis_arguments_are_named(tmp_path):
    path = tmp_path / 'preds.pkl'
    path.write_bytes(pickle.dumps([{'gt_instances': {}}]))
    with pytest.raises(SystemExit, match="--lis .*feature_sigma.*: Expecting value"):
        _main()([str(path), '--lis', '{"feature_sigma": '])
    with pytest.raises(SystemExit, match='--lis .*feature_sigm'):
        _main()([str(path), '--lis', '{"feature_sigm": 0.2}'])


def test_viewpoint_arguments_need_viewpoint_naming(tmp_path, capsys):
    path = tmp_path / 'preds.pkl'
    path.write_bytes(pickle.dumps([{'gt_instances': {}}]))
    with pytest.raises(SystemExit) as exc:
        _main()([str(path), '--viewpoint', '{"sigma": 0.2}'])
    assert exc.value.code == 2
    assert '--viewpoint needs --naming viewpoint' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        _main()([str(path), '--naming', 'assignment', '--viewpoint', '{}'])
    assert '--viewpoint needs --naming viewpoint' in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        _main()([str(path), '--naming', 'assignment', '--mirror-test'])
    assert '--mirror-test needs --naming set' in capsys.readouterr().err


@pytest.mark.parametrize('radius', ['-0.1', 'nan'])
def test_bad_merge_radius_is_named(tmp_path, capsys, radius):
    path = tmp_path / 'preds.pkl'
    path.write_bytes(pickle.dumps([{'gt_instances': {}}]))
    with pytest.raises(SystemExit) as exc:
        _main()([str(path), '--claims', '--merge-radius', radius])
    assert exc.value.code == 2
    assert f'--merge-radius: expected a finite number >= 0, got {float(radius)}' \
        in capsys.readouterr().err

"""demo/klpnet_image_demo.py: whole-image KLPNet from GT boxes (--ann) and from a
detector (--img), one drawing per job, none overwritten by another."""
import json
import os.path as osp
import runpy

import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(REPO, 'demo/klpnet_image_demo.py')
CONFIG = osp.join(REPO, 'configs/klpnet/klpnet_res18_cpu_kplink-synth-128x128.py')
DET_CONFIG = osp.join(REPO, 'configs/dpad/atss_dpad_r18_cpu_kplink-synth-256.py')


def test_output_names_keep_every_drawing(tmp_path):
    output_path = runpy.run_path(DEMO)['output_path']
    used = {}
    paths = [output_path('out', 'a/000000_00.jpg', 'gtboxes', used),
             output_path('out', 'a/000000_00.jpg', 'detected', used),
             output_path('out', 'b/000000_00.jpg', 'detected', used),
             output_path('out', 'a/000001_00.jpg', 'detected', used)]
    assert paths == ['out/000000_00_gtboxes_klpnet.png', 'out/000000_00_detected_klpnet.png',
                     'out/000000_00_detected_klpnet_2.png', 'out/000001_00_detected_klpnet.png']


def test_the_same_image_from_gt_boxes_and_a_detector_gives_two_drawings(
        tiny_synth, tmp_path, capsys, one_torch_thread):
    """The bug this guards against (found on the H200, 2026-12-04): `--ann` and `--img`
    on the same image wrote one file name, the detector's drawing over the GT boxes'."""
    import torch
    from mmdet.apis import init_detector
    from mmengine.registry import init_default_scope
    from mmpose.apis import init_model

    import kplink_mm  # noqa: F401
    from kplink_mm.datasets.kplink_synth_det import KplinkSynthDetDataset
    init_default_scope('mmpose')
    pose_ckpt = str(tmp_path / 'klpnet.pth')
    torch.save({'state_dict': init_model(CONFIG, None, device='cpu').state_dict()}, pose_ckpt)
    init_default_scope('mmdet')
    det_ckpt = str(tmp_path / 'dpad.pth')
    detector = init_detector(DET_CONFIG, None, device='cpu')
    torch.save({'state_dict': detector.state_dict(),
                'meta': {'dataset_meta': dict(KplinkSynthDetDataset.METAINFO)}}, det_ckpt)
    # a detector config that keeps its (untrained) boxes: score_thr 0, 2 per image
    det_cfg = tmp_path / 'det.py'
    det_cfg.write_text(f'_base_ = {DET_CONFIG!r}\n'
                       'model = dict(test_cfg=dict(score_thr=0.0, max_per_img=2))\n')

    ann = osp.join(tiny_synth, 'annotations', 'val.json')
    with open(ann) as f:
        image = osp.join(tiny_synth, json.load(f)['images'][0]['file_name'])
    out_dir = tmp_path / 'out'
    runpy.run_path(DEMO)['main']([
        CONFIG, pose_ckpt, '--ann', ann, '--num-images', '1', '--img', image,
        '--det-config', str(det_cfg), '--det-checkpoint', det_ckpt, '--det-score-thr', '0',
        '--out-dir', str(out_dir)])
    stem = osp.splitext(osp.basename(image))[0]
    assert sorted(p.name for p in out_dir.iterdir()) == [
        f'{stem}_detected_klpnet.png', f'{stem}_gtboxes_klpnet.png']
    printed = capsys.readouterr().out
    assert f'2 targets -> {out_dir}/{stem}_detected_klpnet.png' in printed
    assert f'-> {out_dir}/{stem}_gtboxes_klpnet.png' in printed


def test_an_unreadable_image_is_named(tmp_path, tiny_synth):
    import torch
    from mmengine.registry import init_default_scope
    from mmpose.apis import init_model

    import kplink_mm  # noqa: F401
    init_default_scope('mmpose')
    pose_ckpt = str(tmp_path / 'klpnet.pth')
    torch.save({'state_dict': init_model(CONFIG, None, device='cpu').state_dict()}, pose_ckpt)
    ann = tmp_path / 'ann.json'
    ann.write_text(json.dumps({'images': [{'id': 1, 'file_name': 'val/images/missing.jpg'}],
                               'annotations': [], 'categories': []}))
    with pytest.raises(SystemExit, match='cannot read image .*missing.jpg'):
        runpy.run_path(DEMO)['main']([CONFIG, pose_ckpt, '--ann', str(ann),
                                      '--out-dir', str(tmp_path / 'out')])

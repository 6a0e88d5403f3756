# KLPNet* evaluated on DPAD's detected boxes instead of the ground-truth boxes (with
# LIS). Make the detections first (mmdet's CocoMetric writes them as COCO results):
#   python tools/test.py configs/dpad/atss_dpad_r18_cpu_kplink-synth-256.py DPAD.pth \
#       --cfg-options test_evaluator.outfile_prefix=work_dirs/dpad_val
#   python tools/test.py configs/klpnet/klpnet-detboxes_res18_cpu_kplink-synth-128x128.py KLPNET.pth
# Each detection is matched to a ground-truth target (same category, IoU >= 0.5) for
# the metrics; unmatched detections count as false links, missed targets are not
# scored by PCK (mmpose's top-down protocol).
_base_ = ['./klpnet-lis_res18_cpu_kplink-synth-128x128.py']

test_dataloader = dict(dataset=dict(
    bbox_file='{{ fileDirname }}/../../work_dirs/dpad_val.bbox.json',
    det_score_thr=0.3, det_match_iou=0.5))

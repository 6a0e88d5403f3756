# KLPNet's DPAD detector (ATSS head, CIoU loss), CPU-sized, on kplink-synth 256x256.
_base_ = [
    '../_base_/models/atss_dpad_r18.py',
    '../_base_/datasets/kplink_synth_det.py',
    '../_base_/schedules/cpu_det_12e.py',
    '../_base_/default_runtime_det.py',
]
model = dict(bbox_head=dict(num_classes={{_base_.num_classes}}))

# Baseline: the paper-sized kplink-synth DPAD config with mmdet's FPN as the neck
# (same backbone, 7-level ATSS head, CIoU loss, data and schedule).
_base_ = '../dpad/atss_dpad_x101-64x4d_gpu_kplink-synth-256.py'
model = dict(neck=dict(type='FPN'))

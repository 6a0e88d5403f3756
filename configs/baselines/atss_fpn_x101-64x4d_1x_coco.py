# Baseline for Table 1: the paper-sized DPAD config with mmdet's FPN as the neck
# (same backbone, 7-level ATSS head, CIoU loss and schedule).
_base_ = '../dpad/atss_dpad_x101-64x4d_1x_coco.py'
model = dict(neck=dict(type='FPN'))

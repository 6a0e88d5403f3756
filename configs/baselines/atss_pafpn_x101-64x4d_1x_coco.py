# Baseline for Table 1 (PANet row): the paper-sized DPAD config with mmdet's PAFPN.
_base_ = '../dpad/atss_dpad_x101-64x4d_1x_coco.py'
model = dict(neck=dict(type='PAFPN'))

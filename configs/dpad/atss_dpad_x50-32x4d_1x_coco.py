# Table 2 (depth vs AP/GFLOPs): the paper-sized DPAD detector with ResNeXt-50 32x4d.
_base_ = './atss_dpad_x101-64x4d_1x_coco.py'
model = dict(
    backbone=dict(
        depth=50,
        groups=32,
        base_width=4,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnext50_32x4d')))

# Table 2 (depth vs AP/GFLOPs): ResNeXt-101 at the same 32x4d width as the 50/152
# rows (the Table 1 model is atss_dpad_x101-64x4d_1x_coco.py).
_base_ = './atss_dpad_x101-64x4d_1x_coco.py'
model = dict(
    backbone=dict(
        depth=101,
        groups=32,
        base_width=4,
        init_cfg=dict(type='Pretrained', checkpoint='open-mmlab://resnext101_32x4d')))

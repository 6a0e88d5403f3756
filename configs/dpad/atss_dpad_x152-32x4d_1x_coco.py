# Table 2 (depth vs AP/GFLOPs): ResNeXt-152 32x4d (mmdet's ResNeXt has depth 152,
# blocks (3, 8, 36, 3)). OpenMMLab's model zoo has no ImageNet ResNeXt-152, so
# init_cfg is None here: set model.backbone.init_cfg to your own checkpoint, e.g.
#   --cfg-options model.backbone.init_cfg.type=Pretrained \
#                 model.backbone.init_cfg.checkpoint=/path/to/resnext152_32x4d.pth
_base_ = './atss_dpad_x101-64x4d_1x_coco.py'
model = dict(
    backbone=dict(depth=152, groups=32, base_width=4, init_cfg=None))

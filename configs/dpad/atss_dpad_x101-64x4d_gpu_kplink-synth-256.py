# The paper-sized DPAD detector (ResNeXt-101 64x4d, FPN + C8/C9 + bottom-up path
# N3..N9, 7-level ATSS head, CIoU loss) on kplink-synth 256x256, for GPU users who
# want the paper's model on the synthetic benchmark, next to the CPU-sized ResNet-18
# configs of the same data. mmdet's 1x schedule, 16 images per step.
# The backbone starts from ImageNet weights (network access); offline, pass
# `--cfg-options model.backbone.init_cfg=None` to train it from scratch.
_base_ = [
    '../_base_/models/atss_dpad_x101-64x4d.py',
    '../_base_/datasets/kplink_synth_det.py',
    'mmdet::_base_/schedules/schedule_1x.py',
    '../_base_/default_runtime_det.py',
]
model = dict(bbox_head=dict(num_classes={{_base_.num_classes}}))
train_dataloader = dict(batch_size=16, num_workers=4)
val_dataloader = dict(num_workers=4)
test_dataloader = val_dataloader
# ATSS's learning rate for 16 images per step (mmdet's atss_r50_fpn_1x_coco).
optim_wrapper = dict(
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=0.0001))
auto_scale_lr = dict(enable=False, base_batch_size=16)

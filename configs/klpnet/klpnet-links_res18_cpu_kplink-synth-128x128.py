# KLPNet trained stage-wise: CLPGM alone on top of a trained, frozen CKLM
# (the 3-stage classification config's checkpoint). Train that first:
#   python tools/train.py configs/cklm/cklm-3s-cls_res18_cpu_kplink-synth-128x128.py
_base_ = ['./klpnet_res18_cpu_kplink-synth-128x128.py']

model = dict(freeze_keypoint_model=True, loss_weights=dict(link=1.0))
load_from = '{{ fileDirname }}/../../work_dirs/cklm-3s-cls_res18_cpu_kplink-synth-128x128/epoch_10.pth'
train_cfg = dict(max_epochs=8, val_interval=8)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=8, milestones=[6], gamma=0.1, by_epoch=True),
]

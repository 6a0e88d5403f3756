# cklm-3s-cls-naming-catlogits on twice the CPU budget: does CKLM's naming keep improving
# with more epochs, and does it overtake the category-specific baseline trained for the
# same 20 epochs (configs/baselines/topdown-heatmap_res18-20e_*)? Same schedule shape as
# cpu_pose_10e: warm-up, then x0.1 at 70 % and 90 % of the epochs.
_base_ = ['./cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py']

train_cfg = dict(max_epochs=20, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=20, milestones=[14, 18], gamma=0.1, by_epoch=True),
]

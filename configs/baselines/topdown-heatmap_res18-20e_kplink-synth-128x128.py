# The category-specific baseline for 20 epochs: the equal-budget partner of
# configs/cklm/cklm-3s-cls-naming-catlogits-20e_* (the same schedule).
_base_ = ['./topdown-heatmap_res18_kplink-synth-128x128.py']

train_cfg = dict(max_epochs=20, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=20, milestones=[14, 18], gamma=0.1, by_epoch=True),
]

# CPU-sized pose schedule: minutes on 2 cores with kplink-synth's default split.
train_cfg = dict(by_epoch=True, max_epochs=10, val_interval=5)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=2e-3))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=10, milestones=[7, 9], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=32)

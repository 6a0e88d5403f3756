# The synth-initialised CPU DPAD detector on a doubled schedule (mmdet's "2x" of
# cpu_det_12e: 24 epochs, LR steps at 16 and 22; ~80 min on 2 CPU cores). Same
# model, data and init as atss_dpad_r18-synthinit_cpu_kplink-synth-256.py. Why: with
# no LR step the val AP50 was still rising ~0.08 per 4 epochs (0.47, 0.59, 0.68 at
# epochs 4, 8, 12).
_base_ = './atss_dpad_r18-synthinit_cpu_kplink-synth-256.py'
train_cfg = dict(max_epochs=24, val_interval=4)
param_scheduler = [
    dict(type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=200),
    dict(type='MultiStepLR', begin=0, end=24, by_epoch=True, milestones=[16, 22], gamma=0.1),
]
default_hooks = dict(checkpoint=dict(interval=4))

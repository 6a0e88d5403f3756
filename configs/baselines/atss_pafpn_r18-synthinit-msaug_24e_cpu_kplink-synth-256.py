# Baseline: the augmented 24-epoch synth-initialised DPAD config with mmdet's PAFPN as the neck.
_base_ = '../dpad/atss_dpad_r18-synthinit-msaug_24e_cpu_kplink-synth-256.py'
model = dict(neck=dict(type='PAFPN'))

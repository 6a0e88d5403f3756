# Baseline: the 12-epoch train6k DPAD schedule (9,000 steps of 8 images) with mmdet's FPN
# as the neck. Same backbone init, data, LR steps and test pipeline.
_base_ = '../dpad/atss_dpad_r18-synthinit_12e-train6k_cpu_kplink-synth-256.py'
model = dict(neck=dict(type='FPN'))

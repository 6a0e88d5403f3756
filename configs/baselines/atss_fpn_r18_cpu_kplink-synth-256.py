# Baseline: the DPAD config with mmdet's FPN as the neck. Same backbone, head,
# anchors (7 levels, strides 8..512), loss and schedule; only the neck differs.
_base_ = '../dpad/atss_dpad_r18_cpu_kplink-synth-256.py'
model = dict(neck=dict(type='FPN'))

# Baseline: the synth-initialised DPAD on 6 epochs of the 6,000-image train6k split with
# mmdet's PAFPN as the neck (the same iterations as the 24-epoch configs).
_base_ = '../dpad/atss_dpad_r18-synthinit_6e-train6k_cpu_kplink-synth-256.py'
model = dict(neck=dict(type='PAFPN'))

# Baseline: the DPAD config with mmdet's PAFPN (PANet) as the neck. PAFPN's
# bottom-up path covers the backbone levels only; its extra levels are appended.
_base_ = '../dpad/atss_dpad_r18_cpu_kplink-synth-256.py'
model = dict(neck=dict(type='PAFPN'))

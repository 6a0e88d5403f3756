# Baseline: the paper-sized kplink-synth DPAD config with mmdet's PAFPN (PANet) as
# the neck; PAFPN's bottom-up path covers the backbone levels, its extras are appended.
_base_ = '../dpad/atss_dpad_x101-64x4d_gpu_kplink-synth-256.py'
model = dict(neck=dict(type='PAFPN'))

# The appearance-aware encoder (occlusion-net-appearance_*) with TRIFOCAL
# self-supervision of occluded locations instead of their labels.
_base_ = ['./occlusion-net-appearance_res18_cpu_kplink-synth-mv-128x128.py']

model = dict(supervision='trifocal')

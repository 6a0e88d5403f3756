# CKLM with 2 stage(s) (Table 4 analog); kernels are the finest 2 of 7, 5, 3.
# The main CKLM (identity classification + naming aids, cklm-3s-cls-naming) with a
# different stage count.
_base_ = ['./cklm-3s-cls-naming_res18_cpu_kplink-synth-128x128.py']

codec = dict(
    type='CategoryImplicitHeatmap', input_size=(128, 128), heatmap_size=(32, 32),
    kernel_sizes=(5, 3), offset_radius=1, identity_radius=2, max_peaks=24, score_thr=0.05)
model = dict(head=dict(num_stages=2, decoder=codec))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=20, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]))

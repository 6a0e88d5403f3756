# CKLM, 3 stages, ResNet-18 from scratch, CPU-sized schedule on kplink-synth.
_base_ = [
    '../_base_/default_runtime_pose.py',
    '../_base_/datasets/kplink_synth_pose.py',
    '../_base_/schedules/cpu_pose_10e.py',
    '../_base_/models/cklm_res18.py',
]

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=20, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size={{_base_.codec.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

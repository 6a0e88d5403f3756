# Paper-sized CKLM (KLPNet §3.2): ResNeXt-101 64x4d, 3 stages (kernels 7, 5, 3),
# 256x192 input, mmpose's 210-epoch schedule. For GPU users; on a CPU it builds and
# runs, but training it is not practical.
_base_ = [
    '../_base_/default_runtime_pose.py',
    '../_base_/datasets/kplink_synth_pose.py',
    '../_base_/schedules/gpu_pose_210e.py',
]

input_size = (192, 256)  # (w, h), mmpose's convention
codec = dict(
    type='CategoryImplicitHeatmap', input_size=input_size, heatmap_size=(48, 64),
    kernel_sizes=(7, 5, 3), offset_radius=1, identity_radius=2, max_peaks=32,
    score_thr=0.05)

model = dict(
    type='CategoryImplicitPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        type='ResNeXt', depth=101, groups=64, width_per_group=4, out_indices=(0, 1, 2, 3),
        # ImageNet weights (needs network access): dict(type='Pretrained',
        # checkpoint='open-mmlab://resnext101_64x4d')
        init_cfg=None),
    head=dict(
        type='CKLMHead',
        in_channels=[256, 512, 1024, 2048],
        feat_channels=256,
        num_stages=3,
        num_layers=4,
        cross_stage=True,
        # the CPU configs' best-measured naming (cklm-3s-cls-naming-catlogits,
        # docs/cklm.md): identity classification with one logit per (category,
        # keypoint), per-category FiLM, peaks named by one-to-one assignment
        identity='classification',
        identity_logits='per_category',
        identity_feature='assignment',
        category_context=True,
        decoder=codec),
    test_cfg=dict(flip_test=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=30, scale_factor=(0.75, 1.25)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs', meta_keys={{_base_.pack_meta_keys}}),
]
train_dataloader = dict(batch_size=32, num_workers=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, num_workers=4, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader

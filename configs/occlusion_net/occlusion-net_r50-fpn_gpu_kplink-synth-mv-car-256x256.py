# Occlusion-Net, paper-sized (GPU): a ResNet-50-FPN keypoint model (Mask R-CNN
# keypoint-head class: 4 convs on the stride-4 FPN level), 12 car keypoints as in
# CarFusion, trained jointly with the 2D/3D-KGNN (Eq. 11) and trifocal
# self-supervision on kplink-synth's multi-view split (cars only). Real CarFusion
# loading comes in a later issue.
_base_ = ['./occlusion-net_res18_cpu_kplink-synth-mv-128x128.py']

categories = ['car']
input_size = (256, 256)
codec = dict(type='MSRAHeatmap', input_size=input_size, heatmap_size=(64, 64), sigma=2)
load_from = None  # joint training from ImageNet weights

model = dict(
    categories=categories,
    supervision='trifocal',
    freeze_keypoint_model=False,
    backbone=dict(
        type='ResNet', depth=50, out_indices=(0, 1, 2, 3),
        init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    # mmpose's FPN; its finest (stride-4) level feeds the heatmap head.
    neck=dict(type='FPN', in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=4),
    feature_index=0,
    head=dict(
        in_channels=256,
        out_channels=12,
        deconv_out_channels=(),
        deconv_kernel_sizes=(),
        conv_out_channels=(256, 256, 256, 256),
        conv_kernel_sizes=(3, 3, 3, 3),
        decoder=codec),
    kgnn2d=dict(categories=categories, hidden_channels=512),
    kgnn3d=dict(categories=categories, hidden_channels=512),
    test_cfg=dict(flip_test=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomBBoxTransform', rotate_prob=0.0, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    # crop-space labels (transformed_keypoints) for the graph losses
    dict(type='PackPoseInputs', meta_keys={{_base_.pack_meta_keys}}, pack_transformed=True),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs', meta_keys={{_base_.pack_meta_keys}}),
]
train_dataloader = dict(
    batch_size=32,
    dataset=dict(categories=categories, keypoint_visibility='visible',
                 pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(categories=categories, pipeline=val_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(by_epoch=True, max_epochs=60, val_interval=10)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-4))
param_scheduler = [
    dict(type='LinearLR', begin=0, end=500, start_factor=0.001, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=60, milestones=[40, 55], gamma=0.1, by_epoch=True),
]
auto_scale_lr = dict(base_batch_size=32)

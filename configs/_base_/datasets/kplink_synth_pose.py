# kplink-synth, top-down pose samples over the union keypoint space of all categories.
# data_root resolves from this file, so tools work from any working directory; the
# default splits are generated on first use (KplinkSynthPoseDataset(auto_generate)).
dataset_type = 'KplinkSynthPoseDataset'
data_mode = 'topdown'
data_root = '{{ fileDirname }}/../../../data/kplink_synth/'
# Sum of the categories' keypoint counts (tests check it against the metainfo).
num_union_keypoints = 97
input_size = (128, 128)

# mmpose's default meta keys plus the exact keypoint states the metrics split by.
pack_meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                  'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                  'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                  'keypoint_states')
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs', meta_keys=pack_meta_keys),
]

train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/train.json',
        data_prefix=dict(img=''),
        # The train pipeline ends with the model's codec (GenerateTarget), so each
        # model config sets `train_dataloader.dataset.pipeline` itself.
    ))
val_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        data_mode=data_mode,
        ann_file='annotations/val.json',
        data_prefix=dict(img=''),
        test_mode=True,
        pipeline=val_pipeline,
    ))
test_dataloader = val_dataloader
# PCK@0.1*max(bbox w, h) per category, identified and OracleId, visible/occluded.
val_evaluator = dict(type='CategoryPCKMetric', alpha=0.1)
test_evaluator = val_evaluator

# kplink-synth multi-view splits (3 calibrated views per scene, instance ids shared
# across views) for Occlusion-Net: samples also carry their camera, category slice
# and the other views of the same instance (trifocal supervision).
_base_ = ['./kplink_synth_pose.py']

pack_meta_keys = ('id', 'img_id', 'img_path', 'category_id', 'crowd_index', 'ori_shape',
                  'img_shape', 'input_size', 'input_center', 'input_scale', 'flip',
                  'flip_direction', 'flip_indices', 'raw_ann_info', 'dataset_name',
                  'keypoint_states', 'category_slice', 'camera', 'other_views')
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='PackPoseInputs', meta_keys=pack_meta_keys),
]
train_dataloader = dict(dataset=dict(ann_file='annotations/mv_train.json'))
val_dataloader = dict(
    dataset=dict(ann_file='annotations/mv_val.json', pipeline=val_pipeline))
test_dataloader = val_dataloader
# PCK of the initial / refined / reprojected keypoints for visible and occluded
# keypoints, and the occluded-vs-visible AUC.
val_evaluator = dict(_delete_=True, type='OcclusionKeypointMetric')
test_evaluator = val_evaluator

# Occlusion-Net stage 1 with the paper's reading of "visible keypoints only": the key
# points that are not labelled are assumed invisible (paper §1), so their heatmap
# channels are trained towards zero (UnlabelledKeypointsAsNegatives) instead of being
# ignored as mmpose's codec does. The heatmap confidence then carries the occlusion
# signal the paper's Mask R-CNN baseline has (its AUC 0.83); with the ignored
# variant (heatmap-visible_*) it is at chance. Graph configs use it with
#   --cfg-options load_from=work_dirs/heatmap-visible-neg_res18_cpu_kplink-synth-128x128/epoch_10.pth
_base_ = ['./heatmap-visible_res18_cpu_kplink-synth-128x128.py']

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=20, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size={{_base_.input_size}}),
    dict(type='GenerateTarget', encoder={{_base_.codec}}),
    dict(type='UnlabelledKeypointsAsNegatives', weight=1.0),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

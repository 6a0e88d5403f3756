# The ecosystem's occlusion baseline for Occlusion-Net: mmpose's VisPredictHead (a
# pooled per-keypoint visibility classifier) wrapped around the same heatmap head,
# backbone, data (visible keypoints only) and schedule as Occlusion-Net's keypoint
# model; its `keypoints_visible` probabilities are scored as `occ/AUC/encoder`.
_base_ = ['../occlusion_net/heatmap-visible_res18_cpu_kplink-synth-128x128.py']

model = dict(
    head=dict(
        _delete_=True,
        type='VisPredictHead',
        loss=dict(type='BCELoss', use_target_weight=False, use_sigmoid=True),
        pose_cfg={{_base_.model.head}}))

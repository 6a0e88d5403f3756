# The ecosystem's occlusion baseline for Occlusion-Net: mmpose's VisPredictHead (a
# pooled per-keypoint visibility classifier) wrapped around the same heatmap head,
# backbone, data (visible keypoints only) and schedule as Occlusion-Net's keypoint
# model; its `keypoints_visible` probabilities are scored as `occ/AUC/encoder`.
# loss_weight=1e-3 as in mmpose's own VisPredictHead configs and docs: the BCE is
# ~1000x the heatmap MSE, and at weight 1 it drowned the heatmap loss in the shared
# backbone (visible PCK@0.1 31.6 vs 55.6 for the plain head, 2026-11-25). Adam scales
# the visibility Linear's own steps per parameter, so the small weight does not slow it.
_base_ = ['../occlusion_net/heatmap-visible_res18_cpu_kplink-synth-128x128.py']

model = dict(
    head=dict(
        _delete_=True,
        type='VisPredictHead',
        loss=dict(type='BCELoss', use_target_weight=True, use_sigmoid=True,
                  loss_weight=1e-3),
        pose_cfg={{_base_.model.head}}))

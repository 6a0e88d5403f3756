# Occlusion-Net stage 2 (direct supervision) whose 2D-KGNN encoder also sees the
# keypoint model's appearance at each node: the frozen HeatmapHead's 128-channel
# stride-4 features (before its final 1x1 conv) sampled at the initial keypoint.
# An extension of the paper's V_i = (x, y, c, t): about a quarter of kplink-synth's
# occluded keypoints are hidden by ANOTHER object, which the pose alone cannot reveal.
# Measured (mv_val, 48 epochs, same run as the plain encoder's 83.1 / 25.5 / 49.1):
# encoder AUC 83.0, occluded / visible PCK@0.1 26.0 / 49.6 -- no gain: the features of
# a keypoint model trained on visible keypoints only do not encode occlusion.
_base_ = ['./occlusion-net_res18_cpu_kplink-synth-mv-128x128.py']

model = dict(
    node_appearance='head_features',
    kgnn2d=dict(appearance_channels=128, appearance_proj=32))

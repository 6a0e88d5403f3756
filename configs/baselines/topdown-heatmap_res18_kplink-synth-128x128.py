# Category-specific baseline: mmpose's own HeatmapHead with one channel per
# (category, keypoint) slot of the union space, ResNet-18 from scratch, CPU-sized.
_base_ = [
    '../_base_/default_runtime_pose.py',
    '../_base_/datasets/kplink_synth_pose.py',
    '../_base_/schedules/cpu_pose_10e.py',
    '../_base_/models/topdown-heatmap_res18.py',
]

train_dataloader = dict(dataset=dict(pipeline={{_base_.train_pipeline}}))

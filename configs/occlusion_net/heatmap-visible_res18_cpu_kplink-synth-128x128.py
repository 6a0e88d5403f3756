# Occlusion-Net stage 1: the keypoint model (the paper's Mask R-CNN keypoint head
# analog: one heatmap channel per keypoint slot) trained on VISIBLE keypoints only,
# on kplink-synth train; evaluated on the multi-view val split like the graph models.
# It is also the "heatmap baseline" row of the Occlusion-Net benchmark.
_base_ = [
    '../_base_/default_runtime_pose.py',
    '../_base_/datasets/kplink_synth_mv_pose.py',
    '../_base_/schedules/cpu_pose_10e.py',
    '../_base_/models/topdown-heatmap_res18.py',
]

train_dataloader = dict(
    dataset=dict(ann_file='annotations/train.json', keypoint_visibility='visible',
                 pipeline={{_base_.train_pipeline}}))
# The graph models consume unflipped predictions; keep the baseline comparable.
model = dict(test_cfg=dict(flip_test=False))

# KLPNet* (3-stage CKLM + CLPGM, trained end to end with Eq. 8) on the best-naming CKLM
# of docs/benchmarks.md: naming aids (identity targets on 5x5 cells, per-category FiLM)
# + one naming logit per (category, keypoint) slot + one-to-one peak naming. Same as
# cklm-3s-cls-naming-catlogits for the keypoints, klpnet_res18 for everything else.
_base_ = ['./klpnet_res18_cpu_kplink-synth-128x128.py']

codec = dict(
    type='CategoryImplicitHeatmap', input_size=(128, 128), heatmap_size=(32, 32),
    kernel_sizes=(7, 5, 3), offset_radius=1, identity_radius=2, max_peaks=24,
    score_thr=0.05)
model = dict(head=dict(category_context=True, identity_logits='per_category',
                       identity_feature='assignment', decoder=codec))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=20, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', pack_transformed=True),
]))

# Link operating points per category, best link F1 on the TRAIN split with this
# config's epoch-10 checkpoint (2026-12-01, seed 0; commands in
# klpnet-links-catlogits): val F1 91.4 -> 93.9, test 92.3 -> 94.6 (benchmarks.md).
val_evaluator = [
    dict(type='CategoryPCKMetric', alpha=0.1),
    dict(type='LinkPredictionMetric',
         threshold=dict(default=0.5, aeroplane=0.577, bicycle=0.85, boat=0.92,
                        bottle=0.92, bus=0.838, car=0.819, chair=0.993,
                        diningtable=0.979, sofa=0.986, tvmonitor=0.98)),
]
test_evaluator = val_evaluator

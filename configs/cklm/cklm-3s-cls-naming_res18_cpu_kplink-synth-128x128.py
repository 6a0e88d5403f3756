# CKLM, 3 stages, identity classification with two naming aids (docs/cklm.md):
# identities supervised on 5x5 cells around each keypoint (offsets stay 3x3), and a
# per-category FiLM term in every stage's prediction layer (the identity logits are
# shared across categories; the box gives the category).
_base_ = ['./cklm-3s-cls_res18_cpu_kplink-synth-128x128.py']

codec = dict(
    type='CategoryImplicitHeatmap', input_size=(128, 128), heatmap_size=(32, 32),
    kernel_sizes=(7, 5, 3), offset_radius=1, identity_radius=2, max_peaks=24,
    score_thr=0.05)
model = dict(head=dict(category_context=True, decoder=codec))
train_dataloader = dict(dataset=dict(pipeline=[
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.25),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', rotate_factor=20, scale_factor=(0.8, 1.2)),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]))

# CKLM, 3 stages, naming aids (cklm-3s-cls-naming) + per-category identity logits: one
# logit per (category, keypoint) slot of the union space instead of max_keypoints logits
# shared by all categories. Confidence map and offsets stay category-implicit (one
# heatmap for every keypoint of the target); only the 1x1 naming layer is per category,
# so each of its filters means one keypoint of one category.
# Peaks are named by a one-to-one peak <-> keypoint assignment (identity_feature=
# 'assignment'). Measured on val, 10 epochs (docs/benchmarks.md): PCK 44.7 with argmax
# names, 49.4 with the assignment (the naming config: 39.2 with argmax).
_base_ = ['./cklm-3s-cls-naming_res18_cpu_kplink-synth-128x128.py']

model = dict(head=dict(identity_logits='per_category', identity_feature='assignment'))

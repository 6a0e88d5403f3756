# CKLM, 3 stages, identity classification, plus object context for naming peaks: a
# FiLM scale/shift from the pooled deepest backbone level and coordinate channels in
# every stage's prediction layer (the object's orientation is global, the keypoint's
# name depends on it; docs/cklm.md).
_base_ = ['./cklm-3s-cls_res18_cpu_kplink-synth-128x128.py']

model = dict(head=dict(object_context=True))

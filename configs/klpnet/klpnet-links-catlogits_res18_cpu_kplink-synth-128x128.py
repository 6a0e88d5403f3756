# KLPNet stage-wise on the best-naming CKLM (cklm-3s-cls-naming-catlogits: per-category
# identity logits, category FiLM, one-to-one naming): CLPGM alone on top of that frozen
# CKLM. Train it first:
#   python tools/train.py configs/cklm/cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py
# The codec stays the KLPNet one: with the keypoint model frozen, its targets are not
# learned from, and decoding does not depend on identity_radius.
_base_ = ['./klpnet-links_res18_cpu_kplink-synth-128x128.py']

model = dict(head=dict(category_context=True, identity_logits='per_category',
                       identity_feature='assignment'))
load_from = '{{ fileDirname }}/../../work_dirs/cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128/epoch_10.pth'

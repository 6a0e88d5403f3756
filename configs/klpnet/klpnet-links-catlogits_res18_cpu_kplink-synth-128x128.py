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

# Link operating points, one per category, chosen for the best link F1 on the TRAIN
# split with this config's epoch-8 checkpoint (2026-12-01, seed 0):
#   python tools/test.py THIS_CONFIG CKPT --dump train.pkl \
#       --cfg-options test_dataloader.dataset.ann_file=annotations/train.json
#   python tools/analysis/calibrate_link_thresholds.py train.pkl --out thr.json
# The inner-product decoder scores two-hop pairs high (common neighbours give similar
# z), so 0.5 over-predicts links: val F1 85.1 -> 93.9 at these points (benchmarks.md).
val_evaluator = [
    dict(type='CategoryPCKMetric', alpha=0.1),
    dict(type='LinkPredictionMetric',
         threshold=dict(default=0.5, aeroplane=0.441, bicycle=0.862, boat=0.887,
                        bottle=0.953, bus=0.879, car=0.869, chair=0.936,
                        diningtable=0.888, sofa=0.977, tvmonitor=0.982)),
]
test_evaluator = val_evaluator

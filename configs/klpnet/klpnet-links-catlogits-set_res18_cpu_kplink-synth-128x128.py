# Stage-wise KLPNet on the catlogits CKLM whose peaks are named by the learned peak-set
# naming (CKLMHead(identity_feature='set'), docs/cklm.md) instead of the one-to-one
# assignment. The links are trained exactly as in the parent (ground-truth nodes, frozen
# CKLM), so the naming only changes which keypoint each decoded peak becomes at test
# time: how much of the link error is CKLM's naming (docs/benchmarks.md, issue #6).
# The namer belongs to the CKLM checkpoint it was fitted on (its own peaks on TRAIN):
#   python tools/train.py configs/cklm/cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py
#   python tools/test.py configs/cklm/cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py \
#       work_dirs/cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128/epoch_10.pth \
#       --dump train.pkl --cfg-options test_dataloader.dataset.ann_file=annotations/train.json
#   python tools/train_peak_naming.py train.pkl --out <work_dir below>/peak_naming.pth \
#       --embed-dims 128 --num-layers 3 --epochs 120 --dropout 0.1
#   python tools/train.py THIS_CONFIG
_base_ = ['./klpnet-links-catlogits_res18_cpu_kplink-synth-128x128.py']

peak_naming_checkpoint = ('{{ fileDirname }}/../../work_dirs/'
                          'klpnet-links-catlogits-set_res18_cpu_kplink-synth-128x128/'
                          'peak_naming.pth')
# keypoint_choice='probability': each keypoint takes its likeliest peak (CKLM PCK; the
# links read the peaks' one-to-one names, which it leaves unchanged). mirror_test: the
# namer also names the target's mirror image and the two are averaged; on the train6k
# CKLM with the namer on train + namer3k + namer6k, links by name F1 unoccluded 92.3 /
# 91.1 val / test, by position x (q_a q_b)^0.1 F1 84.1 / 83.2 (docs/benchmarks.md,
# session 33).
model = dict(head=dict(identity_feature='set',
                       peak_naming=dict(checkpoint=peak_naming_checkpoint,
                                        mirror_test=True),
                       keypoint_choice='probability'))

# Links scored by the nodes' names ('link/...') and by where the nodes lie
# ('link_pos/...', what the drawn skeleton shows).
# Operating points chosen per category on the train dump (2026-12-05, s20 run,
# tools/analysis/calibrate_link_thresholds.py; docs/benchmarks.md).
val_evaluator = [
    dict(type='CategoryPCKMetric', alpha=0.1),
    dict(type='LinkPredictionMetric',
         threshold=dict(default=0.5, aeroplane=0.642, bicycle=0.852, boat=0.583,
                        bottle=0.932, bus=0.662, car=0.71, chair=0.982,
                        diningtable=0.984, sofa=0.866, tvmonitor=0.375)),
    dict(type='LinkPredictionMetric', labels='position',
         threshold=dict(default=0.5, aeroplane=0.689, bicycle=0.986, boat=0.742,
                        bottle=0.95, bus=0.693, car=0.782, chair=0.993,
                        diningtable=0.984, sofa=0.866, tvmonitor=0.375)),
]
test_evaluator = val_evaluator

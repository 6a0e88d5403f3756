# Table 5's "KLPNet-dagger" row: KLPNet* plus the Location Instability Strategy, which
# re-shares the peaks of overlapping same-category crops among their targets. LIS has
# no weights: test a KLPNet* checkpoint with this config.
_base_ = ['./klpnet_res18_cpu_kplink-synth-128x128.py']

val_evaluator = [
    dict(type='CategoryPCKMetric', alpha=0.1, lis=dict()),
    dict(type='LinkPredictionMetric', threshold=0.5),
]
test_evaluator = val_evaluator

# Table 5's "KLPNet-dagger" row: KLPNet* plus the Location Instability Strategy, which
# re-shares the peaks of overlapping same-category crops among their targets. LIS has
# no weights: test a KLPNet* checkpoint with this config.
_base_ = ['./klpnet_res18_cpu_kplink-synth-128x128.py']

val_evaluator = [
    # LIS costs tuned on val with the stage-wise CPU model (identity features
    # are noisier than LIS's default 0.1 assumes); see docs/benchmarks.md.
    dict(type='CategoryPCKMetric', alpha=0.1,
         lis=dict(feature_sigma=0.2, fixed_feature_thr=4.0)),
    dict(type='LinkPredictionMetric', threshold=0.5),
]
test_evaluator = val_evaluator

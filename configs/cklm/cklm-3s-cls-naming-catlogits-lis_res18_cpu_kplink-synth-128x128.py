# The catlogits CKLM tested with LIS on overlapping same-category targets. LIS has no
# weights: test a cklm-3s-cls-naming-catlogits checkpoint with this config.
# LIS starts from each crop's own naming and acts only where two crops name one peak
# (keep_crop_naming); the crop that loses the peak takes a new one only if its cost is
# at most refill_cost_thr, else it keeps its name. refill_cost_thr was chosen on the
# TRAIN split's dump (2026-12-02, sweep 0/1/2/4/8/16: overlap PCK 50.3/50.3/50.7/
# 50.2/49.9/49.9, no LIS 50.4); val / test were scored once at 2 (docs/benchmarks.md).
_base_ = ['./cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py']

val_evaluator = dict(
    type='CategoryPCKMetric', alpha=0.1,
    lis=dict(feature_sigma=0.2, fixed_feature_thr=4.0, keep_crop_naming=True,
             refill_cost_thr=2.0))
test_evaluator = val_evaluator

# Stage-wise KLPNet on the catlogits CKLM, with the CLPGM trained on the graphs it
# sees at inference: the keypoints the frozen CKLM finds, named as CKLM names them,
# each node's link target read from the labelled keypoint it lies on
# (KLPNet(train_nodes='peaks'); the paper's "nodes are the keypoints found by CKLM";
# decoded without the flip test, which inference uses).
# The parent trains on ground-truth nodes, whose names are always right, so it learns
# to link by name and repeats CKLM's naming errors as wrong links.
# Train the CKLM first (see the parent), then this config.
_base_ = ['./klpnet-links-catlogits_res18_cpu_kplink-synth-128x128.py']

model = dict(train_nodes='peaks', peak_match_alpha=0.1)

# Links scored both ways: by the nodes' names ('link/...', at 0.5) and by where the
# nodes lie ('link_pos/...', what the drawn skeleton shows), the latter at operating
# points chosen for the best position-labelled F1 on the TRAIN split with this
# config's epoch-8 checkpoint (2026-12-02, seed 0, docs/benchmarks.md):
#   python tools/analysis/calibrate_link_thresholds.py train.pkl --labels position
val_evaluator = [
    dict(type='CategoryPCKMetric', alpha=0.1),
    dict(type='LinkPredictionMetric', threshold=0.5),
    dict(type='LinkPredictionMetric', labels='position',
         threshold=dict(default=0.5, aeroplane=0.591, bicycle=0.64, boat=0.712,
                        bottle=0.47, bus=0.699, car=0.754, chair=0.692,
                        diningtable=0.803, sofa=0.564, tvmonitor=0.615)),
]
test_evaluator = val_evaluator

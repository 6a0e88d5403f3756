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

# Links scored both ways: by the nodes' names ('link/...') and by where the nodes lie
# ('link_pos/...', what the drawn skeleton shows), at 0.5 until operating points are
# chosen for this model on its train dump:
#   python tools/analysis/calibrate_link_thresholds.py train.pkl --labels position
val_evaluator = [
    dict(type='CategoryPCKMetric', alpha=0.1),
    dict(type='LinkPredictionMetric', threshold=0.5),
    dict(type='LinkPredictionMetric', threshold=0.5, labels='position'),
]
test_evaluator = val_evaluator

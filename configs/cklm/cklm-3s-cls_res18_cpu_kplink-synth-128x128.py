# CKLM, 3 stages, ResNet-18 from scratch, CPU-sized: identities learned by classifying
# each peak among its category's keypoints (cross-entropy) instead of regressing the
# canonical 3D point; identification still uses the nearest canonical point.
_base_ = ['./cklm-3s_res18_cpu_kplink-synth-128x128.py']

# A peak is identified by the canonical point of its most likely keypoint: the softmax
# mean drifts to the object's middle when the classifier hesitates (val PCK 27.9 -> 33.2
# with the same weights, docs/benchmarks.md).
model = dict(head=dict(identity='classification', identity_feature='argmax'))

# CKLM, 3 stages, ResNet-18 from scratch, CPU-sized: identities learned by classifying
# each peak among its category's keypoints (cross-entropy) instead of regressing the
# canonical 3D point; identification still uses the nearest canonical point.
_base_ = ['./cklm-3s_res18_cpu_kplink-synth-128x128.py']

model = dict(head=dict(identity='classification'))

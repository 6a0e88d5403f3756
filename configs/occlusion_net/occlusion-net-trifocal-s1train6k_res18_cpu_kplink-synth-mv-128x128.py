# Occlusion-Net with TRIFOCAL self-supervision (Eq. 9, no occluded labels) over the
# stage 1 trained on `train6k`: the trifocal twin of occlusion-net-s1train6k_* (it takes
# that config's stage-1 checkpoint), so a benchmark run beside it measures what share of
# the direct gain Eq. 9 alone recovers with the better initial keypoints.
_base_ = ['./occlusion-net-s1train6k_res18_cpu_kplink-synth-mv-128x128.py']

model = dict(supervision='trifocal')

# Trifocal self-supervision (Eq. 9 alone, no occluded labels) over the `train6k` stage 1,
# trained on six views per scene: the trifocal twin of
# occlusion-net-s1train6k_*_kplink-synth-mv6-*, so a benchmark run beside it measures
# the share of the direct gain Eq. 9 recovers when most occluded keypoints are seen in
# two other views (91 % on `mv6_train`, 43 % on 3 views), as the paper's 18-view data allows.
_base_ = ['./occlusion-net-s1train6k_res18_cpu_kplink-synth-mv6-128x128.py']

model = dict(supervision='trifocal')

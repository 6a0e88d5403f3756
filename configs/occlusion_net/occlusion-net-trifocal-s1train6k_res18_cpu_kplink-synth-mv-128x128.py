# Occlusion-Net with TRIFOCAL self-supervision (Eq. 9, no occluded labels) over the
# stage 1 trained on `train6k`: the trifocal twin of occlusion-net-s1train6k_*, so a
# benchmark run beside it measures what share of the direct gain Eq. 9 alone recovers
# with the better initial keypoints. Train the stage 1 first:
#   python tools/train.py configs/occlusion_net/heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128.py
_base_ = ['./occlusion-net-trifocal_res18_cpu_kplink-synth-mv-128x128.py']

load_from = ('{{ fileDirname }}/../../work_dirs/'
             'heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128/epoch_5.pth')

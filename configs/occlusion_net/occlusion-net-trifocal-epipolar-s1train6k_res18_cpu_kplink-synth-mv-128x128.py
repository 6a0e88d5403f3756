# Trifocal (Eq. 9) + epipolar self-supervision (the extension of
# occlusion-net-trifocal-epipolar_*; still no occluded labels) over the stage 1 trained
# on `train6k`. Train the stage 1 first:
#   python tools/train.py configs/occlusion_net/heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128.py
_base_ = ['./occlusion-net-trifocal-epipolar_res18_cpu_kplink-synth-mv-128x128.py']

load_from = ('{{ fileDirname }}/../../work_dirs/'
             'heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128/epoch_5.pth')

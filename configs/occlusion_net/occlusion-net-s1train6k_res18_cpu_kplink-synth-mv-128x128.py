# Occlusion-Net with direct supervision (the 48-epoch graphs on mv_train) over the
# stage 1 trained on `train6k` (heatmap-visible-neg-train6k_*) instead of `train`:
# only the frozen keypoint model differs, so a benchmark run beside the 48-epoch config
# measures what better initial keypoints give the 2D-KGNN's encoder and decoder.
# Train the stage 1 first:
#   python tools/train.py configs/occlusion_net/heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128.py
_base_ = ['./occlusion-net_res18_cpu_kplink-synth-mv-128x128.py']

load_from = ('{{ fileDirname }}/../../work_dirs/'
             'heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128/epoch_5.pth')

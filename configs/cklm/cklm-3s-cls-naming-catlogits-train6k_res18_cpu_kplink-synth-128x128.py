# The 20-epoch catlogits CKLM's iteration budget (20 x 95 = 1,900 steps of 32 targets)
# spent on four times as many training images: 5 epochs over `train6k` (6,000 generated
# scenes, 11,932 targets) instead of 20 epochs over the default 1,500 images.
# Why: the head names its own training targets better than unseen ones (one-to-one
# naming 72.6 on held-out train images it trained on vs 68.0 on val), and the set namer
# gains 2-3 PCK points when fitted on peaks of images the CKLM never saw
# (docs/benchmarks.md 2026-12-06), so the naming logits are data-limited. Same model,
# LR and warm-up; the LR steps fall at the same fractions (14/20, 18/20), in iterations.
# The default `train` split is then unseen by this checkpoint, so its dump is fair
# fitting data for the set namer (tools/train_peak_naming.py), with a second unseen split
# (`namer3k`). Measured (docs/benchmarks.md, 2026-12-07): set-named val / test PCK 80.1 /
# 81.0, 1.04x the category-specific baseline on the same data and schedule
# (configs/baselines/topdown-heatmap_res18-train6k_*). Generate the splits once:
#   python tools/dataset_converters/generate_synth.py --split train6k --num-scenes 6000 --views 1 --seed 0
#   python tools/dataset_converters/generate_synth.py --split namer3k --num-scenes 3000 --views 1 --seed 0
#   python tools/dataset_converters/generate_synth.py --split namer6k --num-scenes 6000 --views 1 --seed 0
# then dump this checkpoint on `train`, `namer3k` and `namer6k` (tools/test.py --dump,
# with test_dataloader.dataset.ann_file=annotations/<split>.json) and fit the namer on all:
#   python tools/train_peak_naming.py train.pkl namer3k.pkl namer6k.pkl --embed-dims 128 \
#       --num-layers 3 --epochs 40 --dropout 0.1 --context-inputs --keypoint-loss-weight 1 \
#       --out peak_naming.pth
# (val / test PCK 86.8 / 88.3 with the -set config's keypoint_choice='probability' and
# mirror_test; 85.1 / 86.5 with the namer on `train` + `namer3k` alone; 80.1 / 81.0 with
# the plain namer and one-to-one names; docs/benchmarks.md 2026-12-08, sessions 32-33)
# and name with configs/cklm/cklm-3s-cls-naming-catlogits-set_* (model.head.peak_naming.checkpoint).
_base_ = ['./cklm-3s-cls-naming-catlogits-20e_res18_cpu_kplink-synth-128x128.py']

train_dataloader = dict(dataset=dict(ann_file='annotations/train6k.json'))
iters_per_epoch = 373   # 11,932 targets / 32 per batch (the loader yields 372: a few targets are filtered)
train_cfg = dict(max_epochs=5, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=5 * iters_per_epoch, by_epoch=False,
         milestones=[int(3.5 * iters_per_epoch), int(4.5 * iters_per_epoch)], gamma=0.1),
]

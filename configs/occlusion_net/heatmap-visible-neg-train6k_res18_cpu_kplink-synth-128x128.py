# Occlusion-Net stage 1 (the negatives-trained heatmap model) on the generated `train6k`
# split (6,000 images, 11,932 targets) for 5 epochs: 1,865 steps of 32 against 10 x 95
# over `train`, the LR steps at the same fractions of the schedule (7/10 and 9/10).
# Why: the graphs' occlusion AUC is bounded by their inputs. An MLP on one instance's
# heatmap keypoints and confidences reaches 84-87 on mv_val, but 95.0 from exact
# positions (docs/benchmarks.md 2026-12-07), so the lever is a better stage 1. The same
# architecture trained as the category-specific baseline gains 23 visible PCK points from
# this data and budget (53.6 at 10 epochs on `train`, 76.9 at 5 epochs on `train6k`).
# Generate the split once:
#   python tools/dataset_converters/generate_synth.py --split train6k --num-scenes 6000 --views 1 --seed 0
_base_ = ['./heatmap-visible-neg_res18_cpu_kplink-synth-128x128.py']

train_dataloader = dict(dataset=dict(ann_file='annotations/train6k.json'))
iters_per_epoch = 373   # 11,932 targets / 32 per batch
train_cfg = dict(max_epochs=5, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=5 * iters_per_epoch, by_epoch=False,
         milestones=[int(3.5 * iters_per_epoch), int(4.5 * iters_per_epoch)], gamma=0.1),
]

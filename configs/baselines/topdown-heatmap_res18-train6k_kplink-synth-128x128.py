# The category-specific baseline on the train6k budget: the equal-budget, equal-data
# partner of configs/cklm/cklm-3s-cls-naming-catlogits-train6k_* (5 epochs over the
# generated train6k split, 1,865 steps of 32 targets; LR steps at 14/20 and 18/20 of the
# schedule, as in the 20-epoch baseline). Generate the split once:
#   python tools/dataset_converters/generate_synth.py --split train6k --num-scenes 6000 --views 1 --seed 0
_base_ = ['./topdown-heatmap_res18-20e_kplink-synth-128x128.py']

train_dataloader = dict(dataset=dict(ann_file='annotations/train6k.json'))
iters_per_epoch = 373   # 11,932 targets / 32 per batch (the loader yields 372: a few targets are filtered)
train_cfg = dict(max_epochs=5, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=5 * iters_per_epoch, by_epoch=False,
         milestones=[int(3.5 * iters_per_epoch), int(4.5 * iters_per_epoch)], gamma=0.1),
]

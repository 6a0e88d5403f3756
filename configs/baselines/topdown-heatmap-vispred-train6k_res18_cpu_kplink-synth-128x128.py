# The VisPredictHead occlusion baseline on the data and schedule of the train6k stage 1
# (configs/occlusion_net/heatmap-visible-neg-train6k_*: 5 epochs over the generated
# `train6k` split, LR steps at 7/10 and 9/10 of the schedule), so that the 2D-KGNN over
# that stage 1 is compared with the ecosystem's baseline at equal data and budget.
#   python tools/dataset_converters/generate_synth.py --split train6k --num-scenes 6000 --views 1 --seed 0
_base_ = ['./topdown-heatmap-vispred_res18_cpu_kplink-synth-128x128.py']

train_dataloader = dict(dataset=dict(ann_file='annotations/train6k.json'))
iters_per_epoch = 373   # 11,932 targets / 32 per batch
train_cfg = dict(max_epochs=5, val_interval=5)
param_scheduler = [
    dict(type='LinearLR', begin=0, end=50, start_factor=0.01, by_epoch=False),
    dict(type='MultiStepLR', begin=0, end=5 * iters_per_epoch, by_epoch=False,
         milestones=[int(3.5 * iters_per_epoch), int(4.5 * iters_per_epoch)], gamma=0.1),
]

# The CPU-sized DPAD detector with its ResNet-18 initialised from a keypoint model
# trained on kplink-synth TRAIN crops (the category-specific heatmap baseline,
# configs/baselines/topdown-heatmap_res18_kplink-synth-128x128.py; train it first).
# The offline stand-in for the paper's ImageNet pre-training: no pretrained weights
# can be downloaded here, and from scratch the detector is far from converged on a
# CPU schedule. Measured (3 epochs, DPAD): AP 21.2 / AP50 44.5 vs 7.5 / 19.8 from
# scratch. The FPN / PAFPN baselines inherit the same initialisation.
_base_ = './atss_dpad_r18_cpu_kplink-synth-256.py'

synth_pretrained = '{{ fileDirname }}/../../work_dirs/topdown-heatmap_res18_kplink-synth-128x128/epoch_10.pth'
model = dict(backbone=dict(init_cfg=dict(
    _delete_=True, type='Pretrained', prefix='backbone.', checkpoint=synth_pretrained)))

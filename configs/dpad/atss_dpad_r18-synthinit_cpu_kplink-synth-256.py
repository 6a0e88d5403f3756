# The CPU-sized DPAD detector with its ResNet-18 initialised from a keypoint model
# trained on kplink-synth TRAIN crops (the category-specific heatmap baseline,
# configs/baselines/topdown-heatmap_res18_kplink-synth-128x128.py; train it first).
# The offline stand-in for the paper's ImageNet pre-training: no pretrained weights
# can be downloaded here, and from scratch the detector is far from converged on a
# CPU schedule. Measured (DPAD, 6 epochs, kplink-synth val): AP 29.4 / AP50 55.8
# vs 13.5 / 34.1 from scratch. The FPN / PAFPN baselines inherit the same init.
_base_ = './atss_dpad_r18_cpu_kplink-synth-256.py'

synth_pretrained = '{{ fileDirname }}/../../work_dirs/topdown-heatmap_res18_kplink-synth-128x128/epoch_10.pth'
model = dict(backbone=dict(init_cfg=dict(
    _delete_=True, type='Pretrained', prefix='backbone.', checkpoint=synth_pretrained)))

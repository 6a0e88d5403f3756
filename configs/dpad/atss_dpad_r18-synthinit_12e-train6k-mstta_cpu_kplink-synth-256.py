# The 12-epoch train6k DPAD with a multi-scale + flip test-time augmentation for
# `tools/test.py --tta` (without --tta this config tests like its parent). Why these
# scales: the model's weakest objects are the small ones (val AP_S 31.7 against AP_L
# 73.9), and up-sampling the 256x256 renders moves them to the pyramid levels that
# detect medium objects well; 256 keeps the training scale. Each image is seen 6 times
# (3 scales x 2 flips) and the detections are merged by mmdet's DetTTAModel (NMS).
_base_ = './atss_dpad_r18-synthinit_12e-train6k_cpu_kplink-synth-256.py'

tta_scales = [(256, 256), (320, 320), (384, 384)]
tta_pipeline = [
    dict(type='LoadImageFromFile', backend_args=None),
    dict(
        type='TestTimeAug',
        transforms=[
            [dict(type='Resize', scale=s, keep_ratio=True) for s in tta_scales],
            [dict(type='RandomFlip', prob=1.), dict(type='RandomFlip', prob=0.)],
            [dict(type='LoadAnnotations', with_bbox=True)],
            [dict(type='PackDetInputs',
                  meta_keys=('img_id', 'img_path', 'ori_shape', 'img_shape',
                             'scale_factor', 'flip', 'flip_direction'))],
        ]),
]

# cklm-3s-cls-naming-catlogits with the learned peak-set naming at val/test time: a small
# transformer reads all of a target's peaks (relative positions, scores, naming logits)
# and re-scores p(keypoint | peak) before the one-to-one matching
# (kplink_mm.models.utils.PeakSetNaming). It is trained on the CKLM checkpoint's own
# peaks on the TRAIN split, so it belongs to that checkpoint (docs/cklm.md):
#   python tools/test.py configs/cklm/cklm-3s-cls-naming-catlogits-20e_*.py CKPT \
#       --dump train.pkl --cfg-options test_dataloader.dataset.ann_file=annotations/train.json
#   python tools/train_peak_naming.py train.pkl --out <work_dir below>/peak_naming.pth \
#       --embed-dims 128 --num-layers 3 --epochs 120 --dropout 0.1   # chosen on held-out train
#   python tools/test.py configs/cklm/cklm-3s-cls-naming-catlogits-set_*.py CKPT
# More of the checkpoint's own peaks name better: dump it on 6,000 targets of the
# generated train6k split too (test_dataloader.dataset.indices=6000) and pass both dumps,
# with --epochs 40 for the same steps (10-epoch seed-1 CKLM: val PCK 67.8 -> 70.3,
# docs/benchmarks.md 2026-12-06).
# Each keypoint then takes the peak the namer finds most likely to be it
# (keypoint_choice='probability'; two keypoints may share a peak, which the one-to-one
# names forbid): train6k CKLM, context namer, val / test PCK 80.4 / 81.5 -> 84.7 / 85.1
# (docs/benchmarks.md, 2026-12-08). The peaks' one-to-one names are unchanged.
# mirror_test: the namer also names each target seen in a mirror and the two namings are
# averaged (like mmpose's flip test; never worse on held-out fitting images, +0.0 to +0.6).
# With the namer fitted on train + namer3k + namer6k (the train6k config's comment):
# val / test PCK 86.8 / 88.3 (docs/benchmarks.md, session 33). A list of checkpoints is
# an ensemble (their probabilities averaged).
# Training of the CKLM itself is unchanged (any catlogits checkpoint works here).
_base_ = ['./cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py']

peak_naming_checkpoint = ('{{ fileDirname }}/../../work_dirs/'
                          'cklm-3s-cls-naming-catlogits-set_res18_cpu_kplink-synth-128x128/'
                          'peak_naming.pth')
model = dict(head=dict(identity_feature='set',
                       peak_naming=dict(checkpoint=peak_naming_checkpoint,
                                        mirror_test=True),
                       keypoint_choice='probability'))

# Occlusion-Net stage 2, trifocal self-supervision (Eq. 9) EXTENDED by an epipolar term
# (not in the paper): on the 3-view split only 43 % of the occluded keypoints are
# visible in both other views (Eq. 9's requirement), 90 % in at least one; those seen
# in exactly one view are pulled onto its epipolar line. Still no occluded labels.
_base_ = ['./occlusion-net-trifocal_res18_cpu_kplink-synth-mv-128x128.py']

# Units: pixels / focal length (f ~ 286 px on kplink-synth), so a 5-px perpendicular
# error costs ~0.0175; weight 4 puts it on the direct L1's scale (~0.07), as the
# trifocal loss's weight 15 does for Eq. 9.
model = dict(epipolar_loss=dict(type='EpipolarLoss', loss_weight=4.0))

# Occlusion-Net stage 2 with TRIFOCAL self-supervision (Eq. 9): no occluded-keypoint
# labels are used; an occluded keypoint is supervised by the trifocal incidence
# with its (visible, labelled) positions in the two other calibrated views.
_base_ = ['./occlusion-net_res18_cpu_kplink-synth-mv-128x128.py']

model = dict(supervision='trifocal')

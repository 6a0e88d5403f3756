# cklm-3s-cls-naming-catlogits with viewpoint-consistent naming at val/test time: the
# one-to-one peak <-> keypoint matching must also agree with one upright viewpoint of
# the category's mean shape (kplink_mm.models.utils.ViewpointNaming; defaults chosen
# on train predictions, docs/cklm.md). Training is unchanged, so a catlogits
# checkpoint can be evaluated with this config directly.
_base_ = ['./cklm-3s-cls-naming-catlogits_res18_cpu_kplink-synth-128x128.py']

model = dict(head=dict(identity_feature='viewpoint', viewpoint_naming=dict(
    sigma=0.15, facing_weight=0.5, azimuth_step=10.0, elevations=(10, 20, 30, 40, 50))))

"""The VisPredictHead baseline weights its visibility loss so that it does not drown
the heatmap loss in the shared backbone (mmpose's documented loss_weight=1e-3)."""
import os.path as osp

import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData, PixelData

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
VISPRED = osp.join(REPO, 'configs/baselines/topdown-heatmap-vispred_res18_cpu_kplink-synth-128x128.py')


def _batch(cfg, n=2):
    from mmpose.structures import PoseDataSample
    k = cfg.model.head.pose_cfg.out_channels
    w, h = cfg.model.head.pose_cfg.decoder.heatmap_size
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    samples = []
    g = torch.Generator().manual_seed(0)
    for _ in range(n):
        centres = torch.rand(k, 2, generator=g) * torch.tensor([w, h])
        heatmaps = torch.exp(-((xs - centres[:, :1, None]) ** 2 +
                               (ys - centres[:, 1:, None]) ** 2) / (2 * 1.5 ** 2))
        weights = (torch.rand(1, k, generator=g) > 0.5).float()
        s = PoseDataSample(metainfo=dict(flip_indices=list(range(k))))
        s.gt_fields = PixelData(heatmaps=heatmaps)
        s.gt_instance_labels = InstanceData(keypoint_weights=weights)
        samples.append(s)
    return samples


def test_visibility_loss_does_not_dominate_the_heatmap_loss():
    cfg = Config.fromfile(VISPRED)
    init_default_scope('mmpose')
    from mmpose.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    feats = model.extract_feat(torch.rand(2, 3, 128, 128))
    losses = model.head.loss(feats, _batch(cfg))
    assert set(losses) >= {'loss_vis', 'loss_kpt'}
    ratio = float(losses['loss_vis'] / losses['loss_kpt'])
    # at loss_weight 1 the BCE (~0.7) is ~1000x the heatmap MSE (~1e-3)
    assert ratio < 10, (ratio, losses)
    assert float(losses['loss_vis']) > 0


def test_train6k_vispred_baseline_shares_the_train6k_stage1_data_and_schedule():
    more = Config.fromfile(VISPRED.replace('vispred_', 'vispred-train6k_'))
    plain = Config.fromfile(VISPRED)
    stage1 = Config.fromfile(osp.join(
        REPO, 'configs/occlusion_net/heatmap-visible-neg-train6k_res18_cpu_kplink-synth-128x128.py'))
    assert more.model == plain.model and more.optim_wrapper == plain.optim_wrapper
    m, p = more.train_dataloader.to_dict(), plain.train_dataloader.to_dict()
    assert m['dataset'].pop('ann_file') == 'annotations/train6k.json'
    p['dataset'].pop('ann_file')
    assert m == p
    assert more.train_dataloader.dataset.ann_file == stage1.train_dataloader.dataset.ann_file
    assert more.train_cfg == stage1.train_cfg
    assert more.param_scheduler == stage1.param_scheduler
    assert more.val_dataloader == stage1.val_dataloader

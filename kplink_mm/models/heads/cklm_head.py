"""CKLM: KLPNet's Cross-stage Keypoint Localization Module (§3.2, Eq. 1-3).

Every stage is a small encoder-decoder over ``num_layers`` resolutions that predicts,
at heatmap resolution, ONE category-implicit confidence map, offset maps (O_x, O_y)
and canonical identity features. Neighbouring stages exchange features through
concatenation + 1x1 "transmission" convolutions:

    f_l,fine   = T(C(f_l,coarse, f_(l-1),out))           (Eq. 2, encoder side)
    f_(l-1),out = T(C(f_l,fine,down, f_(l-1),fine,up))    (Eq. 3, decoder side)

Stage s is supervised with the s-th Gaussian kernel of the codec (7, 5, 3 by default:
coarse to fine); BCE on confidences, Smooth-L1 on offsets (Eq. 1), L1 on identities.
"""
from typing import List, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from mmcv.cnn import ConvModule
from mmengine.structures import InstanceData
from torch import nn

from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS

from ...datasets.metainfo import category_slices
from ...datasets.synth.categories import get_category
from ...evaluation.functional import (check_keypoint_choice, identify_keypoints,
                                      identify_keypoints_by_probability, slot_name_scores)
from ..utils.lis import solve_assignment
from ..utils.peak_set_naming import PeakSetNaming
from ..utils.viewpoint_naming import ViewpointNaming


class CKLMStage(nn.Module):
    """One encoder-decoder stage with optional cross-stage aggregation inputs."""

    def __init__(self, channels: int, num_layers: int, out_channels: int,
                 aggregate_previous: bool, norm_cfg: dict, object_context: bool = False):
        super().__init__()
        conv = dict(norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.encoders = nn.ModuleList([
            ConvModule(channels, channels, 3, stride=1 if i == 0 else 2, padding=1, **conv)
            for i in range(num_layers)
        ])
        # Eq. 2: transmission layers joining this stage's encoder with the previous
        # stage's decoder output at the same resolution.
        self.encoder_transmissions = nn.ModuleList([
            ConvModule(2 * channels, channels, 1, **conv) for _ in range(num_layers)
        ]) if aggregate_previous else None
        # Eq. 3: decoder joins the up-sampled coarser output with the finer encoder.
        self.decoder_transmissions = nn.ModuleList([
            ConvModule(2 * channels, channels, 1, **conv) for _ in range(num_layers - 1)
        ])
        self.decoder_refines = nn.ModuleList([
            ConvModule(channels, channels, 3, padding=1, **conv) for _ in range(num_layers - 1)
        ])
        # Object context: naming a peak needs the object's orientation (global) AND where
        # the pixel sits in the crop (crops are centred on the target); a 3x3 conv over
        # FiLM-modulated features + coordinate channels can form that product.
        self.context_conv = ConvModule(channels + 2, channels, 3, padding=1, **conv) \
            if object_context else None
        self.predict = nn.Conv2d(channels, out_channels, 1)

    def forward(self, x: torch.Tensor, previous: Optional[List[torch.Tensor]] = None,
                film: Optional[torch.Tensor] = None):
        encoded, h = [], x
        for layer, enc in enumerate(self.encoders):
            h = enc(h)
            if self.encoder_transmissions is not None and previous is not None:
                h = self.encoder_transmissions[layer](torch.cat([h, previous[layer]], 1))
            encoded.append(h)
        decoded = [None] * len(encoded)
        d = decoded[-1] = encoded[-1]
        for layer in range(len(encoded) - 2, -1, -1):
            up = F.interpolate(d, size=encoded[layer].shape[-2:], mode='nearest')
            d = self.decoder_transmissions[layer](torch.cat([encoded[layer], up], 1))
            d = decoded[layer] = self.decoder_refines[layer](d)
        h = decoded[0]
        if self.context_conv is not None:
            gamma, beta = film[..., None, None].chunk(2, dim=1)
            h = h * (1 + gamma) + beta
            coords = _coordinate_maps(h)
            h = self.context_conv(torch.cat([h, coords], 1))
        return self.predict(h), decoded


def _sample_box(sample) -> Optional[np.ndarray]:
    """The target's box (x1, y1, x2, y2, image pixels) from ``gt_instances.bboxes``, or
    None when the sample has none."""
    gt = getattr(sample, 'gt_instances', None)
    bboxes = getattr(gt, 'bboxes', None) if gt is not None else None
    if bboxes is None or not len(bboxes):
        return None
    return np.asarray(bboxes, np.float64).reshape(-1, 4)[0]


def _box_size_in_input(sample) -> float:
    """The target box's larger side in input-crop pixels (where peaks are decoded):
    the box from ``gt_instances.bboxes`` scaled by ``input_size / input_scale``; without
    a box, the crop's larger side over mmpose's default box padding (1.25)."""
    meta = sample.metainfo
    if meta.get('input_size') is None:
        raise KeyError("identity_feature='viewpoint' / 'set' needs the crop's 'input_size' "
                       "in the data sample's metainfo (PackPoseInputs meta_keys)")
    input_size = np.asarray(meta['input_size'], np.float64).reshape(-1)
    box = _sample_box(sample)
    if box is not None and meta.get('input_scale') is not None:
        scale = np.asarray(meta['input_scale'], np.float64).reshape(-1)[:2]
        ratio = input_size[:2] / np.maximum(scale, 1e-9)
        side = max((box[2] - box[0]) * ratio[0], (box[3] - box[1]) * ratio[1])
        if side > 0:
            return float(side)
    return float(input_size.max()) / 1.25


def _naming_context_in_input(sample) -> dict:
    """The target's box and the whole image as x1, y1, x2, y2 in input-crop pixels
    (where peaks are decoded): what a peak namer with context inputs reads. Top-down
    crops are unrotated at test time, so image -> crop is a scale and a shift."""
    meta = sample.metainfo
    missing = [k for k in ('input_size', 'input_center', 'input_scale', 'ori_shape')
               if meta.get(k) is None]
    box = _sample_box(sample)
    if box is None:
        missing.append('gt_instances.bboxes')
    if missing:
        raise KeyError(f'a peak namer with context inputs needs {missing} in the data '
                       "sample (PackPoseInputs meta_keys; the target's box)")
    size = np.asarray(meta['input_size'], np.float64).reshape(-1)[:2]
    center = np.asarray(meta['input_center'], np.float64).reshape(-1)[:2]
    scale = np.asarray(meta['input_scale'], np.float64).reshape(-1)[:2]
    ratio = size / np.maximum(scale, 1e-9)

    def to_input(rect):
        rect = np.asarray(rect, np.float64).reshape(2, 2)
        return ((rect - center) * ratio + size / 2).reshape(4)

    h, w = np.asarray(meta['ori_shape']).reshape(-1)[:2]
    return dict(box=to_input(box), image_rect=to_input([0.0, 0.0, float(w), float(h)]))


def _coordinate_maps(x: torch.Tensor) -> torch.Tensor:
    """(B, 2, H, W) pixel centres normalised to [-1, 1] (x first)."""
    B, _, H, W = x.shape
    ys = torch.linspace(-1, 1, H, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1, 1, W, device=x.device, dtype=x.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing='ij')
    return torch.stack([grid_x, grid_y])[None].expand(B, -1, -1, -1)


@MODELS.register_module()
class CKLMHead(BaseHead):
    """Multi-stage category-implicit keypoint head.

    Args:
        in_channels (Sequence[int]): channels of the backbone levels it receives,
            finest first (e.g. ResNet-18 with ``out_indices=(0, 1, 2, 3)``:
            ``[64, 128, 256, 512]``); the finest level sets the heatmap size.
        feat_channels (int): width of the stages.
        num_stages (int): 1-5; must equal ``len(decoder.kernel_sizes)``.
        num_layers (int): resolutions per stage encoder-decoder.
        cross_stage (bool): use the cross-stage aggregation of Eq. 2-3; False stacks
            stages that only see the previous stage's output (the ablation).
        categories (Sequence[str], optional): categories of the union keypoint space,
            in dataset order (default: all kplink-synth categories).
        identity (str): how peaks learn who they are. ``'canonical'`` regresses the
            canonical 3D point (StarMap; L1). ``'classification'`` predicts logits over
            the category's keypoints, trained with cross-entropy, and the canonical
            feature used for identification is the softmax-weighted mean of the
            category's canonical points (identification protocol unchanged). Measured:
            regression collapses the orientation-dependent axes to their median (see
            docs/cklm.md), classification does not.
        identity_feature (str): classification mode only: the canonical feature a peak
            is identified by. ``'expected'``: softmax-weighted mean of the canonical
            points; ``'argmax'``: the canonical point of the most likely keypoint, so each
            keypoint takes the highest-scoring peak classified as it (an uncertain
            softmax's mean drifts to the middle of the object, nearest to whatever
            keypoint sits there; measured in docs/cklm.md). ``'assignment'``: the
            crop's peaks and the category's keypoints are matched one to one
            (``solve_assignment``, scipy's Hungarian solver, on ``-log p(keypoint | peak)
            - log(peak score)``) and a matched peak carries its keypoint's canonical
            point, so two peaks can no longer both be named the same keypoint while
            its partner goes unnamed; unmatched peaks keep the softmax mean.
            ``'viewpoint'``: the same matching, with every name of a target also
            agreeing with one viewpoint of the category's mean shape (position and
            facing terms; :class:`~kplink_mm.models.utils.ViewpointNaming`).
            ``'set'``: the same matching on p(keypoint | all of the target's peaks) from
            a small transformer trained on this head's own peaks
            (:class:`~kplink_mm.models.utils.PeakSetNaming`,
            ``tools/train_peak_naming.py``), with a "no keypoint" option per peak.
        viewpoint_naming (dict, optional): ``ViewpointNaming`` arguments for
            ``identity_feature='viewpoint'`` (default: its train-chosen defaults).
        peak_naming (dict, optional): ``PeakSetNaming`` arguments for
            ``identity_feature='set'``, e.g. ``dict(checkpoint=...)``; the checkpoint
            is read on first use, so a config builds before the namer is trained.
        keypoint_choice (str): how each keypoint takes a peak after naming (StarMap's
            protocol: each keypoint chooses on its own). ``'feature'`` (default): the
            peak whose canonical feature is nearest to the keypoint's. ``'probability'``
            (``identity='classification'``): the peak with the highest p(keypoint |
            peak) of the naming used (the set namer's for ``'set'``), so two keypoints
            within one peak's reach may share it, which the one-to-one names forbid.
            Peak names (``peak_features``, what links and LIS read) are unchanged.
        object_context (bool): give every stage's prediction layer the object's global
            context: a FiLM scale/shift from the globally pooled deepest backbone level
            plus normalised (x, y) coordinate channels, then a 3x3 conv. Off by default
            (the paper's head); see docs/cklm.md for what it measured.
        category_context (bool): add a learned per-category FiLM term (the category is
            known from the box, and the identity logits are shared across categories);
            with or without ``object_context``.
        identity_logits (str): classification mode only. ``'shared'``: ``max_keypoints``
            logits whose k-th channel means "k-th keypoint of the box's category" for
            every category, so one 1x1 filter must serve ten different keypoints.
            ``'per_category'``: one logit per (category, keypoint) slot of the union
            space, and a sample's cross-entropy and naming read only its category's
            slice. The confidence map and offsets stay category-implicit either way
            (one heatmap for all keypoints); only the naming layer is per category.
        pos_weight (float): extra BCE weight on confidence-map foreground
            (weight = 1 + pos_weight * target), which keeps the sparse peaks from
            being drowned by the background.
        confidence_weight, offset_weight, canonical_weight (float): Θ, Υ of Eq. 1
            and the identity-feature weight.
        stage_loss_weights (Sequence[float], optional): per stage, default all 1.
        loss_confidence, loss_offset, loss_canonical (dict): mmpose loss configs.
        decoder (dict): a ``CategoryImplicitHeatmap`` codec config.
    """

    def __init__(self,
                 in_channels: Sequence[int],
                 feat_channels: int = 64,
                 num_stages: int = 3,
                 num_layers: int = 3,
                 cross_stage: bool = True,
                 categories: Optional[Sequence[str]] = None,
                 identity: str = 'canonical',
                 identity_feature: str = 'expected',
                 object_context: bool = False,
                 category_context: bool = False,
                 identity_logits: str = 'shared',
                 viewpoint_naming: Optional[dict] = None,
                 peak_naming: Optional[dict] = None,
                 keypoint_choice: str = 'feature',
                 pos_weight: float = 10.0,
                 confidence_weight: float = 1.0,
                 offset_weight: float = 1.0,
                 canonical_weight: float = 1.0,
                 stage_loss_weights: Optional[Sequence[float]] = None,
                 loss_confidence: dict = dict(type='BCELoss', use_target_weight=True),
                 loss_offset: dict = dict(type='SmoothL1Loss'),
                 loss_canonical: dict = dict(type='L1Loss'),
                 norm_cfg: dict = dict(type='BN'),
                 decoder: dict = None,
                 init_cfg=None):
        super().__init__(init_cfg)
        if decoder is None:
            raise ValueError('CKLMHead needs `decoder` (a CategoryImplicitHeatmap config)')
        if not 1 <= num_stages <= 5:
            raise ValueError(f'num_stages must be in 1..5, got {num_stages}')
        self.decoder = KEYPOINT_CODECS.build(decoder)
        if self.decoder.num_stages != num_stages:
            raise ValueError(
                f'num_stages={num_stages} but the codec has '
                f'{self.decoder.num_stages} kernel_sizes {self.decoder.kernel_sizes}; '
                'give one Gaussian kernel per stage')
        self.num_stages = num_stages
        self.cross_stage = cross_stage
        self.canonical_dim = self.decoder.canonical_dim
        self.pos_weight = pos_weight
        self.weights = dict(confidence=confidence_weight, offset=offset_weight,
                            canonical=canonical_weight)
        self.stage_loss_weights = list(stage_loss_weights or [1.0] * num_stages)
        if len(self.stage_loss_weights) != num_stages:
            raise ValueError(f'stage_loss_weights needs {num_stages} values, got '
                             f'{self.stage_loss_weights}')
        self.slices = category_slices(categories)
        if identity not in ('canonical', 'classification'):
            raise ValueError(f"identity must be 'canonical' or 'classification', got "
                             f'{identity!r}')
        self.identity = identity
        if identity_feature not in ('expected', 'argmax', 'assignment', 'viewpoint', 'set'):
            raise ValueError(f"identity_feature must be 'expected', 'argmax', "
                             f"'assignment', 'viewpoint' or 'set', got {identity_feature!r}")
        if (identity_feature in ('assignment', 'viewpoint', 'set')
                and identity != 'classification'):
            raise ValueError(f"identity_feature={identity_feature!r} needs "
                             "identity='classification' (it matches on p(keypoint | peak))")
        self.identity_feature = identity_feature
        if viewpoint_naming is not None and identity_feature != 'viewpoint':
            raise ValueError(f'viewpoint_naming={viewpoint_naming} is only used with '
                             f"identity_feature='viewpoint', got {identity_feature!r}")
        self.viewpoint_naming = (ViewpointNaming(**(viewpoint_naming or {}))
                                 if identity_feature == 'viewpoint' else None)
        if (peak_naming is None) != (identity_feature != 'set'):
            raise ValueError(f"peak_naming={peak_naming} goes with identity_feature='set' "
                             f'(and it needs one), got identity_feature={identity_feature!r}')
        self._peak_naming_cfg, self._peak_naming = peak_naming, None
        check_keypoint_choice(keypoint_choice)
        if keypoint_choice == 'probability' and identity != 'classification':
            raise ValueError("keypoint_choice='probability' needs identity='classification' "
                             '(it picks peaks by p(keypoint | peak))')
        self.keypoint_choice = keypoint_choice
        self.max_keypoints = max(n for _, n in self.slices.values())
        self.num_union = sum(n for _, n in self.slices.values())
        if identity_logits not in ('shared', 'per_category'):
            raise ValueError(f"identity_logits must be 'shared' or 'per_category', got "
                             f'{identity_logits!r}')
        if identity_logits == 'per_category' and identity != 'classification':
            raise ValueError("identity_logits='per_category' needs "
                             "identity='classification' (it names the logit channels)")
        self.identity_logits = identity_logits

        conv = dict(norm_cfg=norm_cfg, act_cfg=dict(type='ReLU'))
        self.in_channels = list(in_channels)
        self.laterals = nn.ModuleList(
            [ConvModule(c, feat_channels, 1, **conv) for c in self.in_channels])
        self.fuse = ConvModule(feat_channels, feat_channels, 3, padding=1, **conv)
        # confidence logit, O_x, O_y, identity (canonical point or keypoint logits)
        if identity == 'canonical':
            identity_channels = self.canonical_dim
        else:
            identity_channels = (self.num_union if identity_logits == 'per_category'
                                 else self.max_keypoints)
        out_channels = 3 + identity_channels
        self.stages = nn.ModuleList([
            CKLMStage(feat_channels, num_layers, out_channels,
                      aggregate_previous=cross_stage and s > 0, norm_cfg=norm_cfg,
                      object_context=object_context or category_context)
            for s in range(num_stages)
        ])
        # Zero-initialised so that training starts from the paper's head.
        self.object_context = nn.Linear(self.in_channels[-1], 2 * feat_channels) \
            if object_context else None
        if self.object_context is not None:
            nn.init.zeros_(self.object_context.weight)
            nn.init.zeros_(self.object_context.bias)
        self.category_context = nn.Embedding(len(self.slices), 2 * feat_channels) \
            if category_context else None
        if self.category_context is not None:
            nn.init.zeros_(self.category_context.weight)
        self.remaps = nn.ModuleList([
            ConvModule(out_channels, feat_channels, 1, **conv) for _ in range(num_stages - 1)
        ])
        self.loss_confidence = MODELS.build(loss_confidence)
        self.loss_offset = MODELS.build(loss_offset)
        self.loss_canonical = MODELS.build(loss_canonical)

    def forward(self, feats: Sequence[torch.Tensor],
                category_index: Optional[torch.Tensor] = None) -> List[torch.Tensor]:
        """Per-stage outputs (B, 3 + D, H, W): confidence logit, O_x, O_y, identity.

        ``category_index`` (B,) indexes the head's categories; only the category
        context uses it (without it, e.g. for FLOPs counting, that term is zero).
        """
        feats = list(feats)[-len(self.in_channels):]
        if len(feats) != len(self.in_channels):
            raise ValueError(f'CKLMHead expects {len(self.in_channels)} feature levels '
                             f'(in_channels={self.in_channels}), got {len(feats)}')
        size = feats[0].shape[-2:]
        x = sum(F.interpolate(lat(f), size=size, mode='bilinear', align_corners=False)
                if f.shape[-2:] != size else lat(f) for lat, f in zip(self.laterals, feats))
        x = self.fuse(x)
        film = None
        if self.object_context is not None:
            film = self.object_context(feats[-1].mean(dim=(2, 3)))
        if self.category_context is not None:
            cat = (self.category_context(category_index) if category_index is not None
                   else self.category_context.weight.new_zeros(
                       x.shape[0], self.category_context.embedding_dim))
            film = cat if film is None else film + cat
        outputs, previous = [], None
        for s, stage in enumerate(self.stages):
            out, decoded = stage(x, previous if self.cross_stage else None, film)
            outputs.append(out)
            if s + 1 < self.num_stages:
                x = x + decoded[0] + self.remaps[s](out)
                previous = decoded
        return outputs

    def loss(self, feats, batch_data_samples, train_cfg: dict = {}) -> dict:
        outputs = self.forward(feats, self._category_index(batch_data_samples))
        targets = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        sl = self.decoder.channel_slices()
        conf_t = targets[:, sl['confidence']]
        off_t = targets[:, sl['offset']].permute(0, 2, 3, 1)
        off_m = targets[:, sl['offset_mask']][:, 0] > 0
        can_t = targets[:, sl['canonical']].permute(0, 2, 3, 1)
        can_m = targets[:, sl['canonical_mask']][:, 0] > 0
        if self.identity == 'classification':
            local_t, local_m = self._local_keypoint_index(
                targets[:, sl['keypoint_index']][:, 0], batch_data_samples)
            class_mask = self._class_mask(batch_data_samples, targets.device)
        losses = dict()
        B = targets.shape[0]
        for s, out in enumerate(outputs):
            w = self.stage_loss_weights[s]
            conf = out[:, 0].reshape(B, -1)
            tgt = conf_t[:, s].reshape(B, -1)
            losses[f'loss_conf_s{s + 1}'] = w * self.weights['confidence'] * \
                self.loss_confidence(conf, tgt, 1.0 + self.pos_weight * tgt)
            pred = out.permute(0, 2, 3, 1)
            losses[f'loss_offset_s{s + 1}'] = w * self.weights['offset'] * \
                self._masked(self.loss_offset, pred[..., 1:3], off_t, off_m)
            if self.identity == 'canonical':
                losses[f'loss_canonical_s{s + 1}'] = w * self.weights['canonical'] * \
                    self._masked(self.loss_canonical, pred[..., 3:], can_t, can_m)
            else:
                logits = self._category_logits(out[:, 3:], batch_data_samples)
                losses[f'loss_identity_s{s + 1}'] = w * self.weights['canonical'] * \
                    self._identity_ce(logits.permute(0, 2, 3, 1), class_mask, local_t,
                                      local_m)
        return losses

    def _sample_category(self, sample):
        cat_id = sample.metainfo.get('category_id')
        if cat_id is None:
            raise KeyError(
                "CKLMHead needs 'category_id' in the data sample's metainfo (add it to "
                "PackPoseInputs' meta_keys) to name the peaks of a target")
        spec = get_category(int(np.asarray(cat_id).reshape(-1)[0]))
        if spec.name not in self.slices:
            raise KeyError(f'category {spec.name!r} is not one of the head\'s categories '
                           f'{list(self.slices)}')
        return spec

    def _category_index(self, samples) -> Optional[torch.Tensor]:
        if self.category_context is None:
            return None
        names = list(self.slices)
        return torch.tensor([names.index(self._sample_category(d).name) for d in samples],
                            device=self.category_context.weight.device)

    def _local_keypoint_index(self, slot_maps, samples):
        """Union slot index maps (B, H, W) -> index within the sample's category."""
        starts = torch.tensor([self.slices[self._sample_category(d).name][0] for d in samples],
                              device=slot_maps.device, dtype=torch.long)
        slot = slot_maps.round().long()
        valid = slot >= 0
        return (slot - starts[:, None, None]).clamp(min=0), valid

    def _class_mask(self, samples, device):
        """(B, max_keypoints) True for the classes that exist in each sample's category."""
        counts = torch.tensor([self.slices[self._sample_category(d).name][1] for d in samples],
                              device=device)
        return torch.arange(self.max_keypoints, device=device)[None] < counts[:, None]

    def _logit_offset(self, spec) -> int:
        """First identity channel of a category's keypoints."""
        return self.slices[spec.name][0] if self.identity_logits == 'per_category' else 0

    def _category_logits(self, identity: torch.Tensor, samples) -> torch.Tensor:
        """(B, C, H, W) identity logits -> (B, max_keypoints, H, W): channel k is the
        k-th keypoint of each sample's category (channels past its count are junk and
        masked by ``_class_mask``)."""
        if self.identity_logits == 'shared':
            return identity
        starts = torch.tensor([self._logit_offset(self._sample_category(d)) for d in samples],
                              device=identity.device)
        index = (starts[:, None] + torch.arange(self.max_keypoints, device=identity.device)
                 ).clamp(max=identity.shape[1] - 1)
        B, _, H, W = identity.shape
        return identity.gather(1, index[:, :, None, None].expand(-1, -1, H, W))

    def _identity_ce(self, logits, class_mask, target, mask):
        if not mask.any():
            return logits.sum() * 0.0
        logits = logits.masked_fill(~class_mask[:, None, None, :], -1e4)
        return F.cross_entropy(logits[mask], target[mask])

    def _identity_probs(self, identity, samples) -> List[torch.Tensor]:
        """(B, C, H, W) identity logits -> per sample (N_c, H, W) keypoint probabilities."""
        identity = self._category_logits(identity, samples)
        return [torch.softmax(identity[b, :self.slices[self._sample_category(d).name][1]], 0)
                for b, d in enumerate(samples)]

    @property
    def peak_naming(self) -> Optional[PeakSetNaming]:
        """The learned set naming (``identity_feature='set'``), loaded on first use."""
        if self._peak_naming is None and self._peak_naming_cfg is not None:
            self._peak_naming = PeakSetNaming(**self._peak_naming_cfg)
        return self._peak_naming

    def _identity_features(self, identity, samples, probs=None):
        """(B, C, H, W) identity outputs -> canonical features (B, D, H, W) numpy.

        In classification mode a pixel's feature is the softmax-weighted mean of its
        category's canonical keypoints, so identification stays StarMap's nearest-
        canonical-point rule either way. ``probs``: :meth:`_identity_probs` of
        ``identity`` when the caller already has them.
        """
        if self.identity == 'canonical':
            return identity.detach().cpu().numpy()
        if probs is None:
            probs = self._identity_probs(identity, samples)
        feats = []
        for sample, prob in zip(samples, probs):
            spec = self._sample_category(sample)
            if self.identity_feature == 'argmax':
                prob = F.one_hot(prob.argmax(0), len(prob)).permute(2, 0, 1).to(prob.dtype)
            canon = torch.as_tensor(spec.canonical_keypoints(), device=prob.device)
            feats.append(torch.einsum('khw,kd->dhw', prob, canon))
        return torch.stack(feats).detach().cpu().numpy()

    @staticmethod
    def assign_peak_identities(peak_probs: np.ndarray, peak_scores: np.ndarray,
                               canonical: np.ndarray, features: np.ndarray) -> np.ndarray:
        """One-to-one peak <-> keypoint matching (``identity_feature='assignment'``).

        Args:
            peak_probs: (M, N) p(keypoint | peak) of the M decoded peaks.
            peak_scores: (M,) their confidences (> 0).
            canonical: (N, D) the category's canonical points.
            features: (M, D) the peaks' features before matching (kept for the
                unmatched ones).

        Returns:
            (M, D) features: a matched peak carries its keypoint's canonical point.
        """
        out = np.array(features, dtype=np.float32, copy=True)
        if len(peak_probs) == 0:
            return out
        eps = 1e-6
        cost = -np.log(np.asarray(peak_probs, np.float64) + eps) \
            - np.log(np.asarray(peak_scores, np.float64)[:, None] + eps)
        rows, cols = solve_assignment(cost)
        out[rows] = np.asarray(canonical, np.float32)[cols]
        return out

    @staticmethod
    def _masked(loss_module, pred, target, mask):
        # Only pixels near a keypoint carry offsets/identities; an empty batch gives a
        # zero that still depends on the prediction (keeps DDP's graph complete).
        if not mask.any():
            return pred.sum() * 0.0
        return loss_module(pred[mask][None], target[mask][None])

    def _flip_back(self, out: torch.Tensor, samples) -> torch.Tensor:
        """Undo a horizontal input flip on raw outputs (B, 3 + C, H, W).

        Offsets: a flipped map's pixel j maps to i = W-1-j; the exact keypoint
        position gives O_x(i) = -O_x'(j) + (1 - 1/stride). Identities: canonical
        features change the sign of the object's left/right axis (canonical y);
        keypoint logits swap the category's left/right pairs.
        """
        out = out.flip(-1).clone()
        stride_x = float(self.decoder.scale_factor[0])
        out[:, 1] = -out[:, 1] + (1.0 - 1.0 / stride_x)
        if self.identity == 'canonical':
            if self.canonical_dim >= 2:
                out[:, 4] = -out[:, 4]
            return out
        for b, sample in enumerate(samples):
            spec = self._sample_category(sample)
            perm = list(range(out.shape[1] - 3))
            first = self._logit_offset(spec)
            for i, j in spec.flip_pairs:
                perm[first + i], perm[first + j] = first + j, first + i
            out[b, 3:] = out[b, 3:][perm]
        return out

    def predict(self, feats, batch_data_samples, test_cfg: dict = {}):
        if test_cfg.get('flip_test', False):
            _feats, _feats_flip = feats
            cats = self._category_index(batch_data_samples)
            out = self.forward(_feats, cats)[-1]
            out_flip = self._flip_back(self.forward(_feats_flip, cats)[-1],
                                       batch_data_samples)
            conf = (torch.sigmoid(out[:, :1]) + torch.sigmoid(out_flip[:, :1])) / 2
            rest = (out[:, 1:] + out_flip[:, 1:]) / 2
        else:
            out = self.forward(feats, self._category_index(batch_data_samples))[-1]
            conf, rest = torch.sigmoid(out[:, :1]), out[:, 1:]
        return self.decode_outputs(conf, rest, batch_data_samples)

    def decode_outputs(self, conf, rest, batch_data_samples):
        """Peaks per sample, then named by the sample's category (StarMap protocol)."""
        conf_np = conf[:, 0].detach().cpu().numpy()
        offsets_np = rest[:, :2].detach().cpu().numpy()
        probs = (self._identity_probs(rest[:, 2:], batch_data_samples)
                 if self.identity == 'classification' else None)
        feats_np = self._identity_features(rest[:, 2:], batch_data_samples, probs)
        preds = []
        for b, sample in enumerate(batch_data_samples):
            ys, xs = cells = self.decoder.peak_cells(conf_np[b])
            peaks, scores, feats = self.decoder.decode_maps(conf_np[b], offsets_np[b],
                                                            feats_np[b], cells)
            extra, name_probs = {}, None
            if probs is not None:
                # p(keypoint | peak) of every decoded peak, padded to max_keypoints:
                # what the one-to-one naming decides on, and dumps keep.
                m = len(ys)
                peak_probs = np.zeros((1, self.decoder.max_peaks, self.max_keypoints),
                                      np.float32)
                prob_b = probs[b].detach().cpu().numpy()
                peak_probs[0, :m, :len(prob_b)] = prob_b[:, ys, xs].T
                extra['peak_probs'] = peak_probs
                # how sure the naming is of each name: the head's own p(keypoint |
                # peak), or the set namer's p(keypoint | peak set) (LIS may weigh it)
                name_probs = peak_probs[0, :m, :len(prob_b)]
                if self.identity_feature == 'assignment':
                    feats[0, :m] = self.assign_peak_identities(
                        name_probs, scores[0, :m],
                        self._sample_category(sample).canonical_keypoints(), feats[0, :m])
                elif self.identity_feature in ('viewpoint', 'set'):
                    naming = (self.viewpoint_naming if self.identity_feature == 'viewpoint'
                              else self.peak_naming)
                    context = ({'context': _naming_context_in_input(sample)}
                               if getattr(naming, 'needs_context', False) else {})
                    feats[0, :m], name_probs = naming.name_features(
                        peaks[0, :m], scores[0, :m], name_probs,
                        self._sample_category(sample), _box_size_in_input(sample),
                        feats[0, :m], return_probs=True, **context)
            keypoints = np.zeros((1, self.num_union, 2), np.float32)
            kp_scores = np.zeros((1, self.num_union), np.float32)
            cat_id = sample.metainfo.get('category_id')
            if cat_id is not None:
                spec = get_category(int(np.asarray(cat_id).reshape(-1)[0]))
                start, n = self.slices[spec.name]
                if self.keypoint_choice == 'probability':
                    kpts, kscores, chosen = identify_keypoints_by_probability(
                        peaks[0], scores[0], name_probs, score_thr=self.decoder.score_thr)
                else:
                    kpts, kscores, chosen = identify_keypoints(
                        peaks[0], scores[0], feats[0], spec.canonical_keypoints(),
                        score_thr=self.decoder.score_thr)
                keypoints[0, start:start + n] = kpts
                kp_scores[0, start:start + n] = kscores
                if name_probs is not None:
                    name_scores = np.zeros((1, self.num_union), np.float32)
                    name_scores[0, start:start + n] = slot_name_scores(chosen, name_probs)
                    extra['keypoint_name_scores'] = name_scores
            preds.append(InstanceData(
                keypoints=keypoints, keypoint_scores=kp_scores, peaks=peaks,
                peak_scores=scores, peak_features=feats, **extra))
        return preds

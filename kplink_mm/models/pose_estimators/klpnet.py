"""KLPNet (§3, Fig. 2) as a top-down mmpose estimator: CKLM keypoints + CLPGM links.

    boxes (ground truth, or DPAD detections through the dataset's ``bbox_file``)
      -> crop -> backbone -> CKLM head: one category-implicit heatmap + offsets +
         identity features; peaks named by nearest canonical feature
      -> CLPGM head: a graph over the target's named peaks, conditioned on the
         target's category; link probabilities between every pair of nodes
      -> LIS (image level, where crops of same-category targets overlap): done by
         ``CategoryPCKMetric(lis=...)`` at evaluation and by
         ``kplink_mm.apis.KLPNetInferencer`` at inference, because it needs all
         crops of one image together and a top-down batch may split them.

Training (Eq. 8): ``alpha * L_kd + beta * L_link`` with the CLPGM graphs built from
the labelled keypoints inside the crop (the skeleton restricted to them is the link
target; ``train_nodes='gt'``), or from the keypoints CKLM finds, as at inference
(``'peaks'``; ``'both'`` adds one graph of each per crop). A peak node keeps the
name CKLM gave it as its input and takes as its link target the labelled keypoint
it lies on (nearest, closer than ``peak_match_alpha * max(bbox w, h)``), so the links
learn to follow where the keypoints are rather than what they were called.
``freeze_keypoint_model=True`` trains the links alone on top of a trained CKLM
(stage-wise; load it with ``load_from``); False trains both jointly.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import Tensor

from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList

from ...datasets.synth.categories import get_category
from ...evaluation.functional.links import (match_nodes_to_keypoints,
                                            weight_links_by_name_scores)
from .category_implicit import CategoryImplicitPoseEstimator
from .frozen_keypoint_model import FrozenKeypointModelMixin
from .loss_weights import merge_loss_weights


TRAIN_NODES = ('gt', 'peaks', 'both')


def _category_id(sample) -> int:
    cat_id = sample.metainfo.get('category_id')
    if cat_id is None:
        raise KeyError("KLPNet needs 'category_id' in the sample's metainfo to condition "
                       "the link graph (add it to PackPoseInputs' meta_keys)")
    return int(np.asarray(cat_id).reshape(-1)[0])


@MODELS.register_module()
class KLPNet(FrozenKeypointModelMixin, CategoryImplicitPoseEstimator):
    """Category-implicit keypoints (CKLM) and their links (CLPGM) per target.

    Args:
        backbone, neck, head: the keypoint model (``head``: a ``CKLMHead``).
        link_head (dict): a ``CLPGMHead`` config.
        loss_weights (dict): ``keypoint`` (alpha) and ``link`` (beta) of Eq. 8.
        freeze_keypoint_model (bool): keep backbone/neck/head fixed (stage-wise
            training; BatchNorm statistics frozen too). False: joint training.
        train_nodes (str): the training graphs' nodes: ``'gt'`` (the labelled
            keypoints), ``'peaks'`` (CKLM's named peaks, decoded without gradient)
            or ``'both'``.
        peak_match_alpha (float): a peak node's target is the labelled keypoint
            closer than this fraction of max(bbox w, h) (PCK's alpha); none: -1.
        test_cfg: mmpose's (``flip_test`` for the keypoints), plus
            ``link_score_thr`` (peaks at or below are no link nodes; default the
            codec's score threshold), ``link_deterministic`` (the
            non-probabilistic variant, z = mu; default True) and
            ``link_name_score_power`` (gamma of `weight_links_by_name_scores`;
            default 0, the CLPGM's scores as they are).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 link_head: dict,
                 neck: Optional[dict] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 freeze_keypoint_model: bool = False,
                 train_nodes: str = 'gt',
                 peak_match_alpha: float = 0.1,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None,
                 metainfo: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)
        self.link_head = MODELS.build(link_head)
        self.loss_weights = merge_loss_weights(dict(keypoint=1.0, link=1.0), loss_weights)
        if train_nodes not in TRAIN_NODES:
            raise ValueError(f'KLPNet: train_nodes must be one of {TRAIN_NODES}, got '
                             f'{train_nodes!r}')
        if not peak_match_alpha > 0:
            raise ValueError(f'KLPNet: peak_match_alpha must be > 0, got '
                             f'{peak_match_alpha}')
        self.train_nodes = train_nodes
        self.peak_match_alpha = peak_match_alpha
        if freeze_keypoint_model:
            self.freeze_keypoint_modules()

    # ------------------------------------------------------------------ training
    @staticmethod
    def _transformed_keypoints(sample) -> np.ndarray:
        kpts = sample.gt_instances.get('transformed_keypoints')
        if kpts is None:
            raise KeyError('KLPNet needs gt_instances.transformed_keypoints (crop '
                           'pixels): use PackPoseInputs(pack_transformed=True) in the '
                           'train pipeline')
        return np.asarray(kpts)

    def _gt_graph_inputs(self, data_samples: SampleList) -> List[dict]:
        """One graph per crop from its labelled keypoints (crop pixels)."""
        inputs = []
        for b, sample in enumerate(data_samples):
            kpts = self._transformed_keypoints(sample)
            graph = self.link_head.graph_inputs_from_gt(
                kpts[0], np.asarray(sample.gt_instances.keypoints_visible)[0],
                _category_id(sample), sample.metainfo['input_size'])
            graph['batch_index'] = b
            inputs.append(graph)
        return inputs

    def _peak_graph_inputs(self, feats, data_samples: SampleList) -> List[dict]:
        """One graph per crop from CKLM's named peaks, built as `predict` builds it
        but without the flip test, each node's ``slots`` replaced by the labelled
        keypoint it lies on (-1: none). The peaks carry CKLM's real errors, so the
        link head's simulated jitter is off for these graphs."""
        radii = [self._crop_radius(s) for s in data_samples]  # fail before decoding
        kpts = [self._transformed_keypoints(s)[0] for s in data_samples]
        # decoded as at inference: no gradient, and BatchNorm with its running
        # statistics, which this extra forward must not update in joint training
        was_training = self.head.training
        self.head.eval()
        try:
            with torch.no_grad():
                preds = self.head.predict(feats, data_samples,
                                          test_cfg=dict(flip_test=False))
        finally:
            self.head.train(was_training)
        if isinstance(preds, tuple):
            preds = preds[0]
        thr = self.test_cfg.get('link_score_thr', self.head.decoder.score_thr)
        inputs = []
        for b, (pred, sample) in enumerate(zip(preds, data_samples)):
            cat = _category_id(sample)
            graph = self.link_head.graph_inputs_from_peaks(
                pred.peaks, pred.peak_scores, pred.peak_features, cat,
                sample.metainfo['input_size'], score_thr=thr)
            start, count = self.link_head.slices[get_category(cat).name]
            vis = np.asarray(sample.gt_instances.keypoints_visible)[0]
            graph['slots'] = match_nodes_to_keypoints(
                graph['positions'], kpts[b][start:start + count],
                vis[start:start + count] > 0, radii[b])
            graph['batch_index'] = b
            graph['jitter'] = False
            inputs.append(graph)
        return inputs

    def _crop_radius(self, sample) -> float:
        """``peak_match_alpha * max(bbox w, h)`` in crop pixels."""
        meta = sample.metainfo
        missing = [k for k in ('input_size', 'input_scale') if k not in meta]
        if missing or 'bboxes' not in sample.gt_instances:
            raise KeyError(f"KLPNet(train_nodes={self.train_nodes!r}) needs the metainfo "
                           f"keys 'input_size' and 'input_scale' and gt_instances.bboxes "
                           f"(missing: {missing or ['bboxes']}) to match peaks to "
                           'keypoints')
        x1, y1, x2, y2 = np.asarray(sample.gt_instances.bboxes, np.float64).reshape(-1, 4)[0]
        sx, sy = (np.asarray(meta['input_size'], np.float64).reshape(2) /
                  np.asarray(meta['input_scale'], np.float64).reshape(2))
        return self.peak_match_alpha * max((x2 - x1) * sx, (y2 - y1) * sy)

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        if self.freeze_keypoint_model:
            with torch.no_grad():  # the links only read the frozen features
                feats = self.extract_feat(inputs)
        else:
            feats = self.extract_feat(inputs)
        losses = dict()
        if not self.freeze_keypoint_model:
            kd = self.head.loss(feats, data_samples, train_cfg=self.train_cfg)
            alpha = self.loss_weights['keypoint']
            losses.update({k: v * alpha if k.startswith('loss') else v
                           for k, v in kd.items()})
        graph_inputs = []
        if self.train_nodes in ('gt', 'both'):
            graph_inputs += self._gt_graph_inputs(data_samples)
        if self.train_nodes in ('peaks', 'both'):
            graph_inputs += self._peak_graph_inputs(feats, data_samples)
        out = self.link_head(feats, graph_inputs)
        beta = self.loss_weights['link']
        losses.update({k: v * beta for k, v in
                       self.link_head.loss(out, graph_inputs).items()})
        return losses

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Keypoints (named peaks, mmpose's fields), the raw peaks and, per target,
        ``link_pairs`` (1, M, 2) union keypoint slots, ``link_scores`` (1, M)
        probabilities, and ``category_id`` (1,) of the conditioning category."""
        feats = self.extract_feat(inputs)
        if self.test_cfg.get('flip_test', False):
            head_feats = [feats, self.extract_feat(inputs.flip(-1))]
        else:
            head_feats = feats
        preds = self.head.predict(head_feats, data_samples, test_cfg=self.test_cfg)
        if isinstance(preds, tuple):
            preds = preds[0]
        thr = self.test_cfg.get('link_score_thr', self.head.decoder.score_thr)
        graph_inputs = []
        for b, (pred, sample) in enumerate(zip(preds, data_samples)):
            graph = self.link_head.graph_inputs_from_peaks(
                pred.peaks, pred.peak_scores, pred.peak_features, _category_id(sample),
                sample.metainfo['input_size'], score_thr=thr)
            graph['batch_index'] = b
            graph_inputs.append(graph)
        out = self.link_head(feats, graph_inputs)
        links = self.link_head.predict_links(
            out, deterministic=self.test_cfg.get('link_deterministic', True))
        power = float(self.test_cfg.get('link_name_score_power', 0.0))
        for pred, fields, sample in zip(preds, self.link_head.link_fields(links,
                                                                            graph_inputs),
                                        data_samples):
            if power != 0:
                if 'keypoint_name_scores' not in pred:
                    raise KeyError('KLPNet: test_cfg.link_name_score_power > 0 needs the '
                                   "head's keypoint_name_scores (a CKLMHead with "
                                   'identity logits)')
                fields['link_scores'] = weight_links_by_name_scores(
                    fields['link_pairs'], fields['link_scores'],
                    pred.keypoint_name_scores, power)
            for key, value in fields.items():
                pred.set_field(value, key)
            pred.category_id = np.array([_category_id(sample)], np.int64)
        return self.add_pred_to_datasample(preds, None, data_samples)

    @staticmethod
    def links_of(pred_instances, category_slices: Dict[str, tuple],
                 threshold: float = 0.5) -> List[tuple]:
        """Readable links of one predicted target: ``(name_a, name_b, probability)``
        for every candidate pair scoring at least ``threshold`` (nodes of unknown
        identity are skipped)."""
        spec = get_category(int(np.asarray(pred_instances.category_id).reshape(-1)[0]))
        start, _ = category_slices[spec.name]
        pairs = np.asarray(pred_instances.link_pairs).reshape(-1, 2)
        scores = np.asarray(pred_instances.link_scores).reshape(-1)
        out = []
        for (a, b), s in zip(pairs, scores):
            if a >= 0 and b >= 0 and s >= threshold:
                out.append((spec.keypoint_names[a - start], spec.keypoint_names[b - start],
                            float(s)))
        return out

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
target). ``freeze_keypoint_model=True`` trains the links alone on top of a trained
CKLM (stage-wise; load it with ``load_from``); False trains both jointly.
"""
from typing import Dict, List, Optional

import numpy as np
import torch
from torch import Tensor

from mmpose.registry import MODELS
from mmpose.utils.typing import SampleList

from ...datasets.synth.categories import get_category
from .category_implicit import CategoryImplicitPoseEstimator
from .frozen_keypoint_model import FrozenKeypointModelMixin
from .loss_weights import merge_loss_weights


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
        test_cfg: mmpose's (``flip_test`` for the keypoints), plus
            ``link_score_thr`` (peaks at or below are no link nodes; default the
            codec's score threshold) and ``link_deterministic`` (the
            non-probabilistic variant, z = mu; default True).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 link_head: dict,
                 neck: Optional[dict] = None,
                 loss_weights: Optional[Dict[str, float]] = None,
                 freeze_keypoint_model: bool = False,
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
        if freeze_keypoint_model:
            self.freeze_keypoint_modules()

    # ------------------------------------------------------------------ training
    def _gt_graph_inputs(self, data_samples: SampleList) -> List[dict]:
        """One graph per crop from its labelled keypoints (crop pixels)."""
        inputs = []
        for b, sample in enumerate(data_samples):
            kpts = sample.gt_instances.get('transformed_keypoints')
            if kpts is None:
                raise KeyError('KLPNet needs gt_instances.transformed_keypoints (crop '
                               'pixels): use PackPoseInputs(pack_transformed=True) in the '
                               'train pipeline')
            graph = self.link_head.graph_inputs_from_gt(
                np.asarray(kpts)[0], np.asarray(sample.gt_instances.keypoints_visible)[0],
                _category_id(sample), sample.metainfo['input_size'])
            graph['batch_index'] = b
            inputs.append(graph)
        return inputs

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
        graph_inputs = self._gt_graph_inputs(data_samples)
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
        for pred, fields, sample in zip(preds, self.link_head.link_fields(links,
                                                                            graph_inputs),
                                        data_samples):
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

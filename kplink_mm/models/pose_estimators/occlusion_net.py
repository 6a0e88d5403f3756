"""Occlusion-Net (Reddy et al., CVPR 2019) as a top-down mmpose estimator.

keypoint model (backbone + mmpose heatmap head, trained on visible keypoints)
  -> initial keypoints V = (x, y, c, t) of the instance's category (a graph per instance)
  -> 2D-KGNN encoder (which edges touch an occluded keypoint) + decoder (moves
     occluded keypoints), trained with the edge loss (Eq. 5) and either direct
     supervision of occluded keypoints or the trifocal tensor loss (Eq. 9) from two
     other calibrated views where the keypoint is visible
  -> 3D-KGNN (PCA shape coefficients + perspective camera), trained by reprojection
     onto the 2D-KGNN output (Eq. 10).

Graph coordinates are the keypoints' positions in the model input, normalised to
[-1, 1]; the trifocal loss maps them back to image pixels with the sample's crop
(`input_center`, `input_scale`), so its pipeline must not rotate or flip the crop.
"""
from typing import Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.structures import InstanceData

from mmpose.models.pose_estimators import TopdownPoseEstimator
from mmpose.registry import MODELS

from ...datasets.metainfo import category_slices
from ...datasets.synth.categories import get_category
from ...geometry import projection_matrix
from ..utils.keypoint_graph import build_keypoint_graphs
from .frozen_keypoint_model import FrozenKeypointModelMixin
from .loss_weights import merge_loss_weights


@MODELS.register_module()
class OcclusionNet(FrozenKeypointModelMixin, TopdownPoseEstimator):
    """Heatmap keypoints refined by the 2D-KGNN, lifted by the 3D-KGNN.

    Args:
        backbone, neck, head: the keypoint model (``head``: an mmpose heatmap head
            over the union keypoint slots, e.g. ``HeatmapHead``).
        kgnn2d (dict): a ``KGNN2DHead`` config.
        kgnn3d (dict, optional): a ``KGNN3DHead`` config.
        supervision (str): how occluded keypoints are supervised: ``'direct'``
            (their labelled location) or ``'trifocal'`` (Eq. 9 from two other
            views in which they are visible; no occluded labels are used).
        trifocal_loss (dict): the loss module for ``'trifocal'``.
        epipolar_loss (dict, optional): with ``'trifocal'``, also supervise the
            occluded keypoints visible in only ONE other view by their distance to
            its epipolar line (e.g. ``dict(type='EpipolarLoss')``; an extension:
            the paper uses Eq. 9 alone). Its value is logged as
            ``loss_epipolar``, weighted like ``loss_trifocal`` by
            ``loss_weights['location']``. None (default): Eq. 9 only.
        freeze_keypoint_model (bool): keep backbone/neck/head fixed (stage-wise
            training from a trained keypoint model, given by ``load_from`` or the
            backbone's ``init_cfg``). False trains everything jointly (Eq. 11,
            the keypoint model's own loss included).
        loss_weights (dict): ``keypoint``, ``edge``, ``location``, ``reprojection``
            and ``visible_anchor``: the decoder moves every node, so visible nodes
            are also pulled to their labelled locations (labels of visible
            keypoints exist in both supervision modes); 0 leaves them free, as in
            the paper, where they drift.
        categories (Sequence[str], optional): categories of the union space, in
            dataset order (default: all kplink-synth categories).
        feature_index (int, optional): feed only this level of the backbone/neck
            output to the keypoint head (e.g. 0: an FPN's stride-4 level, as Mask
            R-CNN's keypoint head uses; mmpose heads take the last level).
        node_appearance (str, optional): ``'head_features'`` gives each graph node
            the keypoint head's last feature map before its final 1x1 conv (mmpose
            ``HeatmapHead``: after the deconvolutions, stride 4), bilinearly
            sampled at the node's initial position, as an appearance input to the
            2D-KGNN encoder (build ``kgnn2d`` with ``appearance_channels`` = that
            map's width). Sampled without gradient: it is an input to the graph.
            None (default): the paper's node features only.
        test_cfg: mmpose's, plus ``input_noise_std`` (Gaussian noise added to the
            initial keypoints before the graph, as a fraction of the crop size;
            the robustness study of Fig. 10) and ``refine`` (``'occluded'``,
            default: the decoder's location replaces the heatmap's only for nodes
            the encoder calls occluded, since the decoder exists to move occluded
            keypoints; ``'all'``: every node takes the decoder's location).
    """

    def __init__(self,
                 backbone: dict,
                 head: dict,
                 kgnn2d: dict,
                 kgnn3d: Optional[dict] = None,
                 neck: Optional[dict] = None,
                 supervision: str = 'direct',
                 trifocal_loss: dict = dict(type='TrifocalLoss'),
                 epipolar_loss: Optional[dict] = None,
                 freeze_keypoint_model: bool = True,
                 loss_weights: Optional[Dict[str, float]] = None,
                 categories: Optional[Sequence[str]] = None,
                 feature_index: Optional[int] = None,
                 node_appearance: Optional[str] = None,
                 train_cfg: Optional[dict] = None,
                 test_cfg: Optional[dict] = None,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg=None,
                 metainfo: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg,
                         test_cfg=test_cfg, data_preprocessor=data_preprocessor,
                         init_cfg=init_cfg, metainfo=metainfo)
        if supervision not in ('direct', 'trifocal'):
            raise ValueError(f"supervision must be 'direct' or 'trifocal', got "
                             f'{supervision!r}')
        self.supervision = supervision
        self.kgnn2d = MODELS.build(kgnn2d)
        self.kgnn3d = MODELS.build(kgnn3d) if kgnn3d is not None else None
        self.trifocal_loss = MODELS.build(trifocal_loss) if supervision == 'trifocal' \
            else None
        if epipolar_loss is not None and supervision != 'trifocal':
            raise ValueError("epipolar_loss complements supervision='trifocal' (occluded "
                             f'keypoints without labels), got supervision={supervision!r}')
        self.epipolar_loss = MODELS.build(epipolar_loss) if epipolar_loss is not None \
            else None
        self.loss_weights = merge_loss_weights(
            dict(keypoint=1.0, edge=1.0, location=1.0, reprojection=1.0,
                 visible_anchor=1.0), loss_weights)
        self.slices = category_slices(categories)
        self.feature_index = feature_index
        if node_appearance not in (None, 'head_features'):
            raise ValueError(f"node_appearance must be None or 'head_features', got "
                             f'{node_appearance!r}')
        if node_appearance is not None:
            if not all(hasattr(self.head, n) for n in ('deconv_layers', 'conv_layers')):
                raise ValueError(f"node_appearance='head_features' needs a keypoint head "
                                 f'with deconv_layers and conv_layers (mmpose HeatmapHead), '
                                 f'got {type(self.head).__name__}')
            if not getattr(self.kgnn2d, 'appearance_channels', 0):
                raise ValueError("node_appearance='head_features' needs kgnn2d built "
                                 'with appearance_channels > 0 (the head feature width)')
        self.node_appearance = node_appearance
        if freeze_keypoint_model:
            self.freeze_keypoint_modules()

    # ------------------------------------------------------------------ helpers
    def extract_feat(self, inputs: torch.Tensor):
        feats = super().extract_feat(inputs)
        return feats if self.feature_index is None else (feats[self.feature_index], )

    def _category_slice(self, sample):
        cat_id = sample.metainfo.get('category_id')
        if cat_id is None:
            raise KeyError("OcclusionNet needs 'category_id' in the sample's metainfo to "
                           'pick the graph of its category')
        spec = get_category(int(np.asarray(cat_id).reshape(-1)[0]))
        if spec.name not in self.slices:
            raise KeyError(f'category {spec.name!r} is not one of the model\'s '
                           f'categories {list(self.slices)}')
        return self.slices[spec.name]

    @staticmethod
    def _input_size(sample) -> np.ndarray:
        return np.asarray(sample.metainfo['input_size'], dtype=np.float32)

    def _initial_keypoints(self, feats, data_samples, test_cfg: dict):
        """The keypoint model's decoded keypoints (input space) and scores."""
        preds = self.head.predict(feats, data_samples, test_cfg=test_cfg)
        if isinstance(preds, tuple):
            preds = preds[0]
        return preds

    def _appearance_map(self, feats) -> Optional[torch.Tensor]:
        """The head's features before its final layer, ``(B, C, h, w)``, or None."""
        if self.node_appearance is None:
            return None
        with torch.no_grad():
            return self.head.conv_layers(self.head.deconv_layers(feats[-1]))

    def _graphs(self, init_preds, data_samples, noise_std: float = 0.0,
                appearance_map: Optional[torch.Tensor] = None):
        keypoints, scores, slots, appearance = [], [], [], []
        for b, (pred, sample) in enumerate(zip(init_preds, data_samples)):
            start, count = self._category_slice(sample)
            size = self._input_size(sample)
            kpts = np.asarray(pred.keypoints, np.float32)[0, start:start + count]
            norm = kpts / size * 2.0 - 1.0
            if noise_std > 0:
                # noise_std is a fraction of the crop; the normalised crop spans 2.
                norm = norm + np.random.normal(0.0, 2.0 * noise_std, norm.shape)
            keypoints.append(torch.as_tensor(norm, dtype=torch.float32))
            if appearance_map is not None:
                # The map spans the crop like the normalised positions do
                # (-1/1 = crop edges), hence align_corners=False.
                grid = torch.as_tensor(norm, dtype=appearance_map.dtype,
                                       device=appearance_map.device).view(1, 1, -1, 2)
                sampled = torch.nn.functional.grid_sample(
                    appearance_map[b:b + 1], grid, mode='bilinear',
                    padding_mode='border', align_corners=False)
                appearance.append(sampled.view(appearance_map.shape[1], -1).t())
            scores.append(torch.as_tensor(
                np.asarray(pred.keypoint_scores, np.float32)[0, start:start + count]))
            slots.append(torch.arange(start, start + count))
        fields = dict(appearance=appearance) if appearance_map is not None else {}
        graph = build_keypoint_graphs(keypoints, scores, slots, **fields)
        return graph.to(self.data_preprocessor.device)

    def _node_tensor(self, data_samples, getter, dtype=torch.float32):
        """Concatenate per-sample category-slice values in graph node order."""
        values = []
        for sample in data_samples:
            start, count = self._category_slice(sample)
            values.append(torch.as_tensor(np.asarray(getter(sample))[0, start:start + count],
                                          dtype=dtype))
        return torch.cat(values).to(self.data_preprocessor.device)

    def _node_targets(self, data_samples) -> torch.Tensor:
        """Labelled keypoints in the graph's normalised crop coordinates.

        `gt_instances.keypoints` stay in image space; the crop-space labels are
        `transformed_keypoints`, packed by ``PackPoseInputs(pack_transformed=True)``.
        """
        def crop_space(sample):
            kpts = sample.gt_instances.get('transformed_keypoints')
            if kpts is None:
                raise KeyError("OcclusionNet needs gt_instances.transformed_keypoints: use "
                               "PackPoseInputs(pack_transformed=True) in the train pipeline")
            return np.asarray(kpts) / self._input_size(sample) * 2.0 - 1.0

        return self._node_tensor(data_samples, crop_space)

    @staticmethod
    def _states(sample):
        states = sample.metainfo.get('keypoint_states')
        if states is None:
            raise KeyError("OcclusionNet needs 'keypoint_states' in the sample's metainfo "
                           '(add it to PackPoseInputs meta_keys)')
        return np.asarray(states).reshape(1, -1)

    def _to_image(self, norm: torch.Tensor, data_samples, graph) -> torch.Tensor:
        """Normalised crop coordinates of every node -> original image pixels."""
        centers, scales = [], []
        for b, sample in enumerate(data_samples):
            n = int(graph.ptr[b + 1] - graph.ptr[b])
            centers.append(np.repeat(np.asarray(sample.metainfo['input_center'],
                                                np.float32).reshape(1, 2), n, 0))
            scales.append(np.repeat(np.asarray(sample.metainfo['input_scale'],
                                               np.float32).reshape(1, 2), n, 0))
        center, scale = (torch.as_tensor(np.concatenate(v), device=norm.device)
                         for v in (centers, scales))
        # Same mapping as mmpose's add_pred_to_datasample (input -> image).
        return center + ((norm + 1.0) / 2.0 - 0.5) * scale

    # ------------------------------------------------------------------ training
    def loss(self, inputs: torch.Tensor, data_samples) -> dict:
        feats = self.extract_feat(inputs)
        losses = dict()
        if not self.freeze_keypoint_model:
            losses.update({k: v * self.loss_weights['keypoint']
                           for k, v in self.head.loss(feats, data_samples,
                                                      train_cfg=self.train_cfg).items()})
        with torch.no_grad():
            init = self._initial_keypoints(feats, data_samples, dict(flip_test=False))
        graph = self._graphs(init, data_samples,
                             appearance_map=self._appearance_map(feats))
        out = self.kgnn2d(graph)

        states = self._node_tensor(data_samples, self._states, torch.long)
        # Keypoints outside the image (state 0) have no visibility label.
        losses['loss_edge'] = self.loss_weights['edge'] * \
            self.kgnn2d.loss_edges(out, states == 2, node_valid=states > 0)
        target = self._node_targets(data_samples)
        if self.loss_weights['visible_anchor'] > 0:
            losses['loss_visible_anchor'] = self.loss_weights['visible_anchor'] * \
                self.kgnn2d.loss_direct(out, target, states == 2)
        if self.supervision == 'direct':
            losses['loss_location'] = self.loss_weights['location'] * \
                self.kgnn2d.loss_direct(out, target, states == 1)
        else:
            multi_view = self._multi_view_losses(out['refined'], data_samples, graph)
            losses.update({k: self.loss_weights['location'] * v
                           for k, v in multi_view.items()})

        if self.kgnn3d is not None:
            out3 = self.kgnn3d(graph, out['refined'])
            losses['loss_reprojection'] = self.loss_weights['reprojection'] * \
                self.kgnn3d.loss(out3, out['refined'])
        return losses

    def _multi_view_losses(self, refined, data_samples, graph) -> Dict[str, torch.Tensor]:
        """Eq. 9 for every occluded node visible in two other calibrated views
        (``loss_trifocal``) and, with ``epipolar_loss``, the epipolar distance for
        those visible in exactly one (``loss_epipolar``)."""
        x1_img = self._to_image(refined, data_samples, graph)
        two = dict(index=[], x2=[], x3=[], p1=[], p2=[], p3=[])
        one = dict(index=[], x2=[], p1=[], p2=[])
        for b, sample in enumerate(data_samples):
            start, count = self._category_slice(sample)
            states = self._states(sample)[0, start:start + count]
            camera = sample.metainfo.get('camera')
            views = sample.metainfo.get('other_views') or []
            if camera is None:
                raise KeyError("supervision='trifocal' needs 'camera' and 'other_views' in "
                               'the metainfo (a multi-view split and PackPoseInputs '
                               'meta_keys that keep them)')
            P1 = projection_matrix(camera['K'], camera['R'], camera['t'])
            for j in np.nonzero(states == 1)[0]:
                seen = [v for v in views if v['keypoint_states'][j] == 2]
                node = int(graph.ptr[b]) + int(j)
                if len(seen) >= 2:
                    v2, v3 = seen[:2]
                    two['index'].append(node)
                    two['x2'].append(v2['keypoints'][j])
                    two['x3'].append(v3['keypoints'][j])
                    two['p1'].append(P1)
                    two['p2'].append(_camera_matrix(v2))
                    two['p3'].append(_camera_matrix(v3))
                elif len(seen) == 1 and self.epipolar_loss is not None:
                    one['index'].append(node)
                    one['x2'].append(seen[0]['keypoints'][j])
                    one['p1'].append(P1)
                    one['p2'].append(_camera_matrix(seen[0]))
        dev = refined.device

        def t(v):
            return torch.as_tensor(np.asarray(v), dtype=torch.float64, device=dev)

        # an empty term is a 0 still attached to the graph (complete for DDP)
        losses = dict(loss_trifocal=refined.sum() * 0.0)
        if two['index']:
            losses['loss_trifocal'] = self.trifocal_loss(
                x1_img[two['index']].double(), t(two['x2']), t(two['x3']), t(two['p1']),
                t(two['p2']), t(two['p3'])).float()
        if self.epipolar_loss is not None:
            losses['loss_epipolar'] = refined.sum() * 0.0
            if one['index']:
                losses['loss_epipolar'] = self.epipolar_loss(
                    x1_img[one['index']].double(), t(one['x2']), t(one['p1']),
                    t(one['p2'])).float()
        return losses

    # ------------------------------------------------------------------ inference
    def predict(self, inputs: torch.Tensor, data_samples):
        assert self.with_head, 'OcclusionNet needs a keypoint head'
        if self.test_cfg.get('flip_test', False):
            feats = [self.extract_feat(inputs), self.extract_feat(inputs.flip(-1))]
        else:
            feats = self.extract_feat(inputs)
        init = self._initial_keypoints(feats, data_samples, self.test_cfg)
        graph = self._graphs(init, data_samples,
                             noise_std=float(self.test_cfg.get('input_noise_std', 0.0)),
                             appearance_map=self._appearance_map(
                                 feats[0] if isinstance(feats, list) else feats))
        out = self.kgnn2d(graph)
        out3 = self.kgnn3d(graph, out['refined']) if self.kgnn3d is not None else None
        refine = self.test_cfg.get('refine', 'occluded')
        if refine not in ('occluded', 'all'):
            raise ValueError(f"test_cfg.refine must be 'occluded' or 'all', got {refine!r}")
        final = out['refined']
        if refine == 'occluded':
            # Measured: moving visible nodes too cost more visible PCK than it gained.
            final = torch.where(out['node_visible'][:, None], graph.pos, final)

        preds = []
        for b, (pred, sample) in enumerate(zip(init, data_samples)):
            start, count = self._category_slice(sample)
            lo, hi = int(graph.ptr[b]), int(graph.ptr[b + 1])
            size = self._input_size(sample)
            num_union = pred.keypoints.shape[1]

            def union(values, dim=None):
                shape = (1, num_union) if dim is None else (1, num_union, dim)
                full = np.zeros(shape, np.float32)
                full[0, start:start + count] = values
                return full

            def to_input(norm):
                return (norm.detach().cpu().numpy() + 1.0) / 2.0 * size

            init_kpts = np.asarray(pred.keypoints, np.float32)
            init_scores = np.asarray(pred.keypoint_scores, np.float32)
            new = InstanceData(
                keypoints=union(to_input(final[lo:hi]), 2),
                keypoint_scores=init_scores.copy(),
                init_keypoints=init_kpts.copy(),
                init_scores=init_scores.copy(),
                visibility_scores=union(
                    out['node_visibility'][lo:hi].detach().cpu().numpy()),
            )
            if out3 is not None:
                new.reprojected_keypoints = union(to_input(out3['reprojected'][lo:hi]), 2)
            preds.append(new)
        return self.add_pred_to_datasample(preds, None, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances, batch_pred_fields,
                               batch_data_samples):
        # mmpose maps `keypoints` to image space; the other point sets follow it.
        for pred, sample in zip(batch_pred_instances, batch_data_samples):
            center = np.asarray(sample.metainfo['input_center'])
            scale = np.asarray(sample.metainfo['input_scale'])
            size = np.asarray(sample.metainfo['input_size'])
            for key in ('init_keypoints', 'reprojected_keypoints'):
                if key in pred:
                    setattr(pred, key, pred.get(key) / size * scale + center - 0.5 * scale)
        return super().add_pred_to_datasample(batch_pred_instances, batch_pred_fields,
                                              batch_data_samples)


def _camera_matrix(view: dict) -> np.ndarray:
    cam = view['camera']
    return projection_matrix(cam['K'], cam['R'], cam['t'])

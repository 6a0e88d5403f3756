"""Occlusion-Net's 3D Keypoint Graph Neural Network (§3.2, Eq. 10).

A graph encoder over the 2D-KGNN's output graph predicts, per graph (instance),
the PCA shape coefficients β of its category and a perspective camera (focal f,
rotation quaternion q, translation t). The 3D keypoints are

    W = b0 + Σ_k β_k σ_k b_k                     (category's shape basis)

and their projection π(W) is compared with the 2D-KGNN output V^g:

    L_reproj = Σ_j ||π(W_j) - V^g_j||²           (Eq. 10)

Self-supervised: no 3D label is used. Categories differ in keypoint count N_c and
basis size K_c, so β is predicted by one linear layer per category, and shapes are
composed and projected per category.

Image frame. The graph's coordinates are the keypoints normalised to [-1, 1] over
the instance's (top-down crop) box, x right, y down, so π works in that frame with
the principal point at the origin (the box centre, as the paper assumes) and f in
units of half the box width. The paper rescales projected points by s = w/h to
undo normalising a non-square image to a square one; here that is
``aspect_ratio``: the projection uses (f_x, f_y) = (f, s f). mmpose's top-down
crops already have the input's aspect ratio and these graphs are box-normalised on
a square input, so s = 1 (the default) and no rescaling happens.
"""
import math
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn
from torch_geometric.nn import global_mean_pool
from torch_geometric.utils import scatter

from mmpose.registry import MODELS

from ...datasets.metainfo import category_slices
from .kgnn2d_head import GraphMLP, _NodeInput

__all__ = ['KGNN3DEncoder', 'KGNN3DHead']


def _inv_softplus(y: float) -> float:
    """x with softplus(x) = y (y > 0)."""
    return y + math.log(-math.expm1(-y))


class KGNN3DEncoder(nn.Module):
    """Message passing on the keypoint graph, then mean pooling to a graph vector.

    node MLP, then ``num_rounds`` × (v→e MLP on [h_i, h_j]; e→v reduction; node MLP,
    added residually), then ``global_mean_pool`` and a graph MLP.

    Args:
        num_slots (int): size of the union keypoint space.
        hidden_channels (int): width.
        type_channels (int): keypoint-type embedding width.
        num_rounds (int): v→e→v rounds.
        dropout (float): dropout in the MLPs (training only).
        norm (str): see :class:`~kplink_mm.models.heads.kgnn2d_head.GraphMLP`.
        aggr (str): ``'sum'`` or ``'mean'`` edge-to-node reduction.
        use_score (bool): include the node confidence in the input.
    """

    def __init__(self, num_slots: int, hidden_channels: int = 256, type_channels: int = 32,
                 num_rounds: int = 2, dropout: float = 0.0, norm: str = 'layer',
                 aggr: str = 'mean', use_score: bool = True):
        super().__init__()
        hid = hidden_channels
        self.aggr = aggr
        self.node_input = _NodeInput(num_slots, type_channels, use_score)
        self.node_in = GraphMLP(self.node_input.out_channels, hid, hid, dropout, norm)
        self.edge_mlps = nn.ModuleList(
            [GraphMLP(2 * hid, hid, hid, dropout, norm) for _ in range(num_rounds)])
        self.node_mlps = nn.ModuleList(
            [GraphMLP(hid, hid, hid, dropout, norm) for _ in range(num_rounds)])
        self.graph_mlp = GraphMLP(hid, hid, hid, dropout, norm)

    def forward(self, pos, score, slot, edge_index, batch, num_graphs: int) -> torch.Tensor:
        """``(num_graphs, hidden_channels)`` graph features."""
        src, dst = edge_index
        h = self.node_in(self.node_input(pos, score, slot))
        for edge_mlp, node_mlp in zip(self.edge_mlps, self.node_mlps):
            e = edge_mlp(torch.cat([h[src], h[dst]], dim=-1))
            h = h + node_mlp(scatter(e, dst, dim=0, dim_size=pos.shape[0], reduce=self.aggr))
        return self.graph_mlp(global_mean_pool(h, batch, size=num_graphs))


@MODELS.register_module()
class KGNN3DHead(BaseModule):
    """3D-KGNN: PCA shape coefficients + perspective camera per graph (Eq. 10).

    Args:
        shape_bases (str | dict): ``.npz`` path read with
            :func:`kplink_mm.geometry.shape_basis.load_shape_bases`, or the dict it
            returns: ``{category: dict(mean (N_c, 3), components (K_c, N_c, 3),
            sigmas (K_c,), ...)}`` (numpy or torch). Stored as buffers, so a
            checkpoint carries the bases it was trained with.
        auto_build_bases (bool): when ``shape_bases`` is a path that does not exist,
            build the kplink-synth bases there first
            (``tools/dataset_converters/build_shape_basis.py`` with its defaults).
        categories (Sequence[str], optional): categories of the union keypoint
            space in dataset order (default: all kplink-synth categories); a graph's
            category is read from its nodes' slots. Bases of other categories are
            ignored; a graph of a category without a basis raises.
        num_components (int, optional): use only the first K components of each
            basis (default: all).
        hidden_channels (int): encoder width.
        type_channels (int): keypoint-type embedding width.
        num_rounds (int): message-passing rounds of the encoder.
        dropout (float): encoder dropout (training only).
        norm (str): encoder normalisation (``'layer'``, ``'batch'``, ``'none'``).
        aggr (str): edge-to-node reduction (``'mean'`` default: graphs of 7 and 12
            nodes give features of the same scale).
        use_score (bool): include the node confidence in the input.
        focal_init (float): prior focal length in half-box units, the output at
            initialisation; f = softplus(raw + softplus⁻¹(focal_init)) > 0. The
            default 5 is a box seen under ~23°, e.g. an object filling 40 % of a
            55° field of view (kplink-synth cameras have 35-65° horizontal FOV).
        min_depth_ratio (float): t_z > min_depth_ratio · r_c, r_c the largest
            distance of the category's mean keypoints from the object origin; with
            the default 1, every mean-shape keypoint is in front of the camera.
        quaternion_init (Sequence[float]): prior rotation (w, x, y, z), the output at
            initialisation (default identity).
        aspect_ratio (float): s = w/h of the frame the graph coordinates were
            normalised in; y is projected with focal s·f (1 for box-normalised
            square inputs).
        loss_weight (float): weight of the reprojection loss.
        beta_prior_weight (float): weight of the Gaussian prior mean_b ||β_b||² (β
            are in units of σ_k, so N(0, I) is the PCA prior); 0 disables.
        detach_target (bool): stop gradients of the reprojection loss into its 2D
            target (default: the 3D-KGNN fits the 2D-KGNN output without moving it;
            False lets the shape prior pull the 2D output, as §3.2 suggests).
        detach_input (bool): stop gradients into the 2D positions the encoder reads.
        init_cfg (dict, optional): mmengine init config.

    Translation is parameterised by where the object origin projects (u0, v0) and
    its depth: t_z = r_c (min_depth_ratio + softplus(raw_z + b)), with b set so that
    t_z = focal_init · r_c at initialisation (then the mean shape spans about the
    box), and t_xy = (u0 / f, v0 / (s f)) t_z. This keeps the outputs O(1) whatever
    the units of the bases.
    """

    def __init__(self,
                 shape_bases: Union[str, dict],
                 auto_build_bases: bool = True,
                 categories: Optional[Sequence[str]] = None,
                 num_components: Optional[int] = None,
                 hidden_channels: int = 256,
                 type_channels: int = 32,
                 num_rounds: int = 2,
                 dropout: float = 0.0,
                 norm: str = 'layer',
                 aggr: str = 'mean',
                 use_score: bool = True,
                 focal_init: float = 5.0,
                 min_depth_ratio: float = 1.0,
                 quaternion_init: Sequence[float] = (1.0, 0.0, 0.0, 0.0),
                 aspect_ratio: float = 1.0,
                 loss_weight: float = 1.0,
                 beta_prior_weight: float = 0.0,
                 detach_target: bool = True,
                 detach_input: bool = True,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if focal_init <= 0:
            raise ValueError(f'focal_init must be > 0, got {focal_init}')
        if focal_init <= min_depth_ratio:
            raise ValueError(f'focal_init ({focal_init}) must exceed min_depth_ratio '
                             f'({min_depth_ratio}): the initial depth is focal_init * r_c')
        if len(quaternion_init) != 4:
            raise ValueError(f'quaternion_init needs 4 values, got {quaternion_init}')
        if isinstance(shape_bases, str):
            from ...geometry.shape_basis import load_shape_bases
            if auto_build_bases:
                from ...datasets.synth.shape_bases import ensure_shape_bases
                ensure_shape_bases(shape_bases)
            shape_bases = load_shape_bases(shape_bases)
        self.slices = category_slices(categories)
        self.category_names = list(self.slices)
        self.num_slots = sum(n for _, n in self.slices.values())
        self.aspect_ratio = float(aspect_ratio)
        self.min_depth_ratio = float(min_depth_ratio)
        self.loss_weight = loss_weight
        self.beta_prior_weight = beta_prior_weight
        self.detach_target = detach_target
        self.detach_input = detach_input

        slot_category = torch.empty(self.num_slots, dtype=torch.long)
        starts = torch.empty(len(self.category_names), dtype=torch.long)
        for ci, name in enumerate(self.category_names):
            start, count = self.slices[name]
            slot_category[start:start + count] = ci
            starts[ci] = start
        self.register_buffer('slot_category', slot_category, persistent=False)
        self.register_buffer('slot_start', starts, persistent=False)

        # Bases as buffers (index-named: category names need not be identifiers).
        self._basis_index: Dict[str, int] = {}
        radius = torch.ones(len(self.category_names))
        self.beta_heads = nn.ModuleDict()
        self.num_components = {}
        for ci, name in enumerate(self.category_names):
            if name not in shape_bases:
                continue
            basis = shape_bases[name]
            mean = torch.as_tensor(np.asarray(basis['mean']), dtype=torch.float32)
            comps = torch.as_tensor(np.asarray(basis['components']), dtype=torch.float32)
            sigmas = torch.as_tensor(np.asarray(basis['sigmas']), dtype=torch.float32)
            if num_components is not None:
                comps, sigmas = comps[:num_components], sigmas[:num_components]
            count = self.slices[name][1]
            if mean.shape != (count, 3) or comps.shape[1:] != (count, 3) \
                    or sigmas.shape != comps.shape[:1]:
                raise ValueError(
                    f'shape basis of {name!r}: mean {tuple(mean.shape)}, components '
                    f'{tuple(comps.shape)}, sigmas {tuple(sigmas.shape)}; the category has '
                    f'{count} keypoints, expected (N,3), (K,N,3), (K,)')
            self.register_buffer(f'basis_mean_{ci}', mean)
            self.register_buffer(f'basis_components_{ci}', comps)
            self.register_buffer(f'basis_sigmas_{ci}', sigmas)
            self._basis_index[name] = ci
            self.num_components[name] = int(comps.shape[0])
            radius[ci] = mean.norm(dim=-1).max().clamp(min=1e-6)
            self.beta_heads[name] = nn.Linear(hidden_channels, int(comps.shape[0]))
        if not self._basis_index:
            raise ValueError(f'no shape basis for any of the categories '
                             f'{self.category_names}; bases given for {list(shape_bases)}')
        self.register_buffer('ref_radius', radius)
        self.max_components = max(self.num_components.values())

        self.encoder = KGNN3DEncoder(self.num_slots, hidden_channels, type_channels,
                                     num_rounds=num_rounds, dropout=dropout, norm=norm,
                                     aggr=aggr, use_score=use_score)
        self.focal_fc = nn.Linear(hidden_channels, 1)
        self.quaternion_fc = nn.Linear(hidden_channels, 4)
        self.translation_fc = nn.Linear(hidden_channels, 3)
        self._focal_init = float(focal_init)
        self._quaternion_init = tuple(float(v) for v in quaternion_init)
        self._init_output_layers()

    def _init_output_layers(self):
        # Small output layers whose biases hold the priors, so that an untrained head
        # already predicts a plausible camera (mean shape, centred, spanning the box).
        for fc in (self.focal_fc, self.quaternion_fc, self.translation_fc,
                   *self.beta_heads.values()):
            nn.init.normal_(fc.weight, std=1e-3)
            nn.init.zeros_(fc.bias)
        with torch.no_grad():
            self.focal_fc.bias.fill_(_inv_softplus(self._focal_init))
            self.quaternion_fc.bias.copy_(torch.as_tensor(self._quaternion_init))
            self.translation_fc.bias[2] = _inv_softplus(self._focal_init -
                                                        self.min_depth_ratio)

    def init_weights(self):
        """mmengine init (``init_cfg``), then restore the prior-carrying output
        layers, which a generic ``init_cfg`` on Linear layers would overwrite."""
        super().init_weights()
        self._init_output_layers()

    def _basis(self, name: str):
        ci = self._basis_index[name]
        return (getattr(self, f'basis_mean_{ci}'), getattr(self, f'basis_components_{ci}'),
                getattr(self, f'basis_sigmas_{ci}'))

    def forward(self, graph, positions: Optional[torch.Tensor] = None
                ) -> Dict[str, torch.Tensor]:
        """Shape and camera per graph, 3D keypoints and their projections per node.

        Args:
            graph (Batch): keypoint graphs (``pos``, ``score``, ``slot``,
                ``edge_index``, ``batch``, ``ptr``); every node of a graph must
                belong to one category and hold a distinct slot of it (a graph may
                miss some of its category's keypoints).
            positions (Tensor, optional): ``(num_nodes, 2)`` positions to use
                instead of ``graph.pos`` (the 2D-KGNN's ``refined`` output).

        Returns:
            dict: ``beta`` (B, K_max) (zero-padded past the graph's K_c);
            ``focal`` (B,); ``quaternion`` (B, 4) unit; ``translation`` (B, 3);
            ``category`` (B,) index into the head's categories; ``shape_3d``
            (num_nodes, 3) W_j in the object frame; ``depth`` (num_nodes,) camera
            depth; ``reprojected`` (num_nodes, 2) π(W_j) in the graph's frame.
            All float32, also under autocast.
        """
        from ...geometry.perspective import perspective_project
        from ...geometry.shape_basis import compose_shape
        pos = graph.pos if positions is None else positions
        if self.detach_input:
            pos = pos.detach()
        slot, batch = graph.slot, graph.batch
        num_graphs = int(graph.num_graphs)
        feats = self.encoder(pos, graph.score, slot, graph.edge_index, batch, num_graphs)

        node_cat = self.slot_category[slot]
        graph_cat = self.slot_category[slot[graph.ptr[:-1]]]
        if (node_cat != graph_cat[batch]).any():
            raise ValueError('every graph must hold keypoints of a single category')
        local = slot - self.slot_start[node_cat]

        # The camera, shape and projection stay float32 under autocast (--amp): a
        # division by depth in float16 is too coarse, and which ops autocast lowers
        # differs between devices (on CUDA `feats` is float32 after the LayerNorm
        # while the linear heads give float16).
        focal = F.softplus(self.focal_fc(feats)[:, 0].float())
        raw_q = self.quaternion_fc(feats).float()
        quaternion = F.normalize(raw_q, dim=-1)
        raw_t = self.translation_fc(feats).float()
        radius = self.ref_radius[graph_cat]
        tz = radius * (self.min_depth_ratio + F.softplus(raw_t[:, 2]))
        tx = raw_t[:, 0] * tz / focal
        ty = raw_t[:, 1] * tz / (focal * self.aspect_ratio)
        translation = torch.stack([tx, ty, tz], dim=-1)
        focal_xy = torch.stack([focal, focal * self.aspect_ratio], dim=-1)

        beta = feats.new_zeros(num_graphs, self.max_components, dtype=torch.float32)
        shape_3d = feats.new_zeros(pos.shape[0], 3, dtype=torch.float32)
        reprojected = feats.new_zeros(pos.shape[0], 2, dtype=torch.float32)
        depth = feats.new_zeros(pos.shape[0], dtype=torch.float32)
        for ci in torch.unique(graph_cat).tolist():
            name = self.category_names[ci]
            if name not in self._basis_index:
                raise KeyError(f'KGNN3DHead has no shape basis for category {name!r}')
            mean, comps, sigmas = self._basis(name)
            in_cat = graph_cat == ci
            gidx = in_cat.nonzero()[:, 0]
            beta_c = self.beta_heads[name](feats[gidx]).float()              # (B_c, K_c)
            with torch.autocast(feats.device.type, enabled=False):
                W = compose_shape(mean, sigmas, comps, beta_c)               # (B_c, N_c, 3)
                uv, z = perspective_project(W, focal_xy[gidx], raw_q[gidx],
                                            translation[gidx])
            beta[gidx, :beta_c.shape[1]] = beta_c
            # graph b's rank among this category's graphs -> row of W / uv
            rank = torch.cumsum(in_cat.long(), 0) - 1
            nodes = (node_cat == ci).nonzero()[:, 0]
            rows, cols = rank[batch[nodes]], local[nodes]
            shape_3d[nodes] = W[rows, cols]
            reprojected[nodes] = uv[rows, cols]
            depth[nodes] = z[rows, cols]
        return dict(beta=beta, focal=focal, quaternion=quaternion, translation=translation,
                    category=graph_cat, shape_3d=shape_3d, depth=depth,
                    reprojected=reprojected)

    def loss(self, out: Dict[str, torch.Tensor], target_2d: torch.Tensor,
             weight: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Eq. 10 (+ the optional β prior), scalar.

        Args:
            out (dict): :meth:`forward`'s output.
            target_2d (Tensor): ``(num_nodes, 2)`` V^g, the 2D-KGNN output (detached
                if ``detach_target``).
            weight (Tensor, optional): ``(num_nodes,)`` per-node weights (e.g. 0 for
                keypoints to ignore).

        Returns:
            Tensor: ``loss_weight · Σ_j w_j ||π(W_j) - V^g_j||² / B`` (Eq. 10 summed
            over a graph's keypoints, averaged over graphs) plus
            ``beta_prior_weight · mean_b ||β_b||²``.
        """
        target = target_2d.detach() if self.detach_target else target_2d
        err = ((out['reprojected'] - target.to(out['reprojected'])) ** 2).sum(-1)
        if weight is not None:
            err = err * weight.to(err)
        num_graphs = max(out['focal'].shape[0], 1)
        loss = self.loss_weight * err.sum() / num_graphs
        if self.beta_prior_weight > 0:
            loss = loss + self.beta_prior_weight * (out['beta'] ** 2).sum(-1).mean()
        return loss

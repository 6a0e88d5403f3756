"""Occlusion-Net's 2D Keypoint Graph Neural Network (§3.1, Eq. 1-8).

Graphs come from :func:`kplink_mm.models.utils.build_keypoint_graphs`: one fully
connected directed graph per instance over its category's keypoints, node positions
normalised to [-1, 1] over the instance's box. Node features are
V_i = (x_i, y_i, c_i, t_i) with t_i a learned embedding of the union keypoint slot,
so keypoint types of different categories never share an embedding.

Encoder (NRI-style edge classifier, Eq. 1-4):

    h1_j     = f_enc(V_j)                             (Eq. 1)
    h1_(i,j) = f_e1([h1_i, h1_j])                     (Eq. 2, kept as skip)
    h2_j     = f_v(sum_{i != j} h1_(i,j))             (Eq. 3)
    h2_(i,j) = f_e2([h2_i, h2_j])                     (Eq. 4)
    logits   = Linear(f_out([h2_(i,j), h1_(i,j)]))    2 classes: 1 = both ends visible

Decoder (Eq. 6-8), one message-passing step:

    h_(i,j) = sum_p E_ij,p f_e^p([V_i, V_j])          (Eq. 6)
    mu_j    = V_j + f_v([V_j, sum_{i != j} h_(i,j)])  (Eq. 7; only x, y move)

Eq. 8's Gaussian N(mu, rho^2 I) with a fixed rho makes the NLL an MSE on mu, so the
head supervises mu directly (L1 or MSE) or leaves it to the caller's trifocal loss.
"""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn
from torch_geometric.utils import scatter

from mmpose.registry import MODELS

from ...datasets.metainfo import category_slices
from ..utils.keypoint_graph import edge_visibility_labels, node_visibility_from_edges

__all__ = ['GraphMLP', 'KGNN2DEncoder', 'KGNN2DDecoder', 'KGNN2DHead']


def _norm(norm: str, channels: int) -> nn.Module:
    if norm == 'layer':
        return nn.LayerNorm(channels)
    if norm == 'batch':
        return nn.BatchNorm1d(channels)
    if norm in ('none', None):
        return nn.Identity()
    raise ValueError(f"norm must be 'layer', 'batch' or 'none', got {norm!r}")


class GraphMLP(nn.Module):
    """NRI's MLP block: Linear-ELU-Dropout-Linear-ELU-Norm over nodes or edges.

    Args:
        in_channels (int): input width.
        hidden_channels (int): hidden width.
        out_channels (int): output width.
        dropout (float): dropout after the first layer (``nn.Dropout``, so
            ``module.eval()`` switches it off; the public code left it on).
        norm (str): ``'layer'`` (default), ``'batch'`` or ``'none'``. LayerNorm is
            the default because a top-down batch holds only a few graphs whose edges
            are strongly correlated (all edges of an instance share its pose), so
            BatchNorm's batch statistics are noisy and its running statistics differ
            from them at test time; LayerNorm normalises each row on its own and
            behaves the same in training and inference.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int,
                 dropout: float = 0.0, norm: str = 'layer'):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(in_channels, hidden_channels), nn.ELU(), nn.Dropout(dropout),
            nn.Linear(hidden_channels, out_channels), nn.ELU(), _norm(norm, out_channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class _NodeInput(nn.Module):
    """V_i = (x, y, c, t[, a]): position, confidence, a learned slot embedding and,
    optionally, a linear projection of an appearance vector sampled at the node."""

    def __init__(self, num_slots: int, type_channels: int, use_score: bool = True,
                 appearance_channels: int = 0, appearance_proj: int = 32):
        super().__init__()
        self.type_embed = nn.Embedding(num_slots, type_channels)
        self.use_score = use_score
        self.appearance_channels = appearance_channels
        self.appearance = nn.Linear(appearance_channels, appearance_proj) \
            if appearance_channels > 0 else None
        self.out_channels = 2 + int(use_score) + type_channels + \
            (appearance_proj if appearance_channels > 0 else 0)

    def forward(self, pos, score, slot, appearance=None):
        parts = [pos]
        if self.use_score:
            parts.append(score.unsqueeze(-1).to(pos.dtype))
        parts.append(self.type_embed(slot))
        if self.appearance is not None:
            if appearance is None or appearance.shape != (pos.shape[0],
                                                          self.appearance_channels):
                got = None if appearance is None else tuple(appearance.shape)
                raise ValueError(f'the encoder was built with appearance_channels='
                                 f'{self.appearance_channels} and needs a per-node '
                                 f'appearance of shape ({pos.shape[0]}, '
                                 f'{self.appearance_channels}) (the graph\'s `appearance` '
                                 "node field; OcclusionNet sets it with node_appearance="
                                 f"'head_features'), got {got}")
            parts.append(self.appearance(appearance.to(pos.dtype)))
        return torch.cat(parts, dim=-1)


class KGNN2DEncoder(nn.Module):
    """Edge classifier of Eq. 1-4 on fully connected keypoint graphs.

    Args:
        num_slots (int): size of the union keypoint space (type embedding rows).
        hidden_channels (int): width of every MLP (256 fits CPU training; the
            paper's code uses 512).
        type_channels (int): width of the keypoint-type embedding t_i.
        num_edge_types (int): output classes per edge (2: occluded / visible).
        dropout (float): dropout inside the MLPs (training only).
        norm (str): see :class:`GraphMLP`.
        aggr (str): edge-to-node reduction, ``'sum'`` (Eq. 3) or ``'mean'`` (NRI
            divides by the node count; makes 7- and 12-node graphs alike in scale).
        use_score (bool): include the confidence c_i in V_i.
        appearance_channels (int): width of an optional per-node appearance vector
            (image features at the keypoint), projected to ``appearance_proj`` and
            appended to V_i; 0 (default) is the paper's V_i.
        appearance_proj (int): width of that projection.
    """

    def __init__(self, num_slots: int, hidden_channels: int = 256, type_channels: int = 32,
                 num_edge_types: int = 2, dropout: float = 0.0, norm: str = 'layer',
                 aggr: str = 'sum', use_score: bool = True, appearance_channels: int = 0,
                 appearance_proj: int = 32):
        super().__init__()
        if aggr not in ('sum', 'mean'):
            raise ValueError(f"aggr must be 'sum' or 'mean', got {aggr!r}")
        hid = hidden_channels
        self.aggr = aggr
        self.node_input = _NodeInput(num_slots, type_channels, use_score,
                                     appearance_channels, appearance_proj)
        self.mlp_node1 = GraphMLP(self.node_input.out_channels, hid, hid, dropout, norm)
        self.mlp_edge1 = GraphMLP(2 * hid, hid, hid, dropout, norm)
        self.mlp_node2 = GraphMLP(hid, hid, hid, dropout, norm)
        self.mlp_edge2 = GraphMLP(2 * hid, hid, hid, dropout, norm)
        self.mlp_out = GraphMLP(2 * hid, hid, hid, dropout, norm)
        self.fc_out = nn.Linear(hid, num_edge_types)

    def forward(self, pos: torch.Tensor, score: torch.Tensor, slot: torch.Tensor,
                edge_index: torch.Tensor,
                appearance: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Edge logits ``(E, num_edge_types)``.

        Args:
            pos (Tensor): ``(num_nodes, 2)`` normalised positions.
            score (Tensor): ``(num_nodes,)`` confidences.
            slot (Tensor): ``(num_nodes,)`` union slot indices.
            edge_index (Tensor): ``(2, E)`` (sender i, receiver j).
            appearance (Tensor, optional): ``(num_nodes, appearance_channels)``;
                required iff the encoder was built with ``appearance_channels > 0``.
        """
        src, dst = edge_index
        h = self.mlp_node1(self.node_input(pos, score, slot, appearance))     # Eq. 1
        e_skip = self.mlp_edge1(torch.cat([h[src], h[dst]], dim=-1))          # Eq. 2
        h = self.mlp_node2(scatter(e_skip, dst, dim=0, dim_size=pos.shape[0],
                                   reduce=self.aggr))                         # Eq. 3
        e = self.mlp_edge2(torch.cat([h[src], h[dst]], dim=-1))               # Eq. 4
        return self.fc_out(self.mlp_out(torch.cat([e, e_skip], dim=-1)))


class KGNN2DDecoder(nn.Module):
    """Occluded point predictor of Eq. 6-7: one typed message-passing step.

    Args:
        num_slots (int): size of the union keypoint space.
        hidden_channels (int): width of the message and node MLPs.
        type_channels (int): width of the decoder's own keypoint-type embedding.
        num_edge_types (int): edge types p (one message MLP each).
        dropout (float): dropout in the MLPs (training only).
        aggr (str): ``'sum'`` (Eq. 7) or ``'mean'`` over incoming edges.
        use_score (bool): include the confidence c_i in V_i.
        zero_init (bool): zero the last layer so that an untrained decoder returns
            its input (Δ = 0): training starts from "trust the heatmap".
    """

    def __init__(self, num_slots: int, hidden_channels: int = 256, type_channels: int = 32,
                 num_edge_types: int = 2, dropout: float = 0.0, aggr: str = 'sum',
                 use_score: bool = True, zero_init: bool = True):
        super().__init__()
        if aggr not in ('sum', 'mean'):
            raise ValueError(f"aggr must be 'sum' or 'mean', got {aggr!r}")
        hid = hidden_channels
        self.aggr = aggr
        self.num_edge_types = num_edge_types
        self.node_input = _NodeInput(num_slots, type_channels, use_score)
        c_in = self.node_input.out_channels
        # f_e^p, as in the public code / NRI decoder: Linear-ReLU-(Dropout)-Linear-ReLU.
        self.msg_mlps = nn.ModuleList([
            nn.Sequential(nn.Linear(2 * c_in, hid), nn.ReLU(), nn.Dropout(dropout),
                          nn.Linear(hid, hid), nn.ReLU())
            for _ in range(num_edge_types)
        ])
        # f_v also sees V_j itself (NRI's decoder does; Eq. 7 only shows the sum):
        # the node then knows its own type and position even if all its incoming
        # edges carry little weight.
        self.node_mlp = nn.Sequential(
            nn.Linear(c_in + hid, hid), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hid, hid), nn.ReLU(), nn.Linear(hid, 2))
        self.zero_init = zero_init
        if zero_init:
            nn.init.zeros_(self.node_mlp[-1].weight)
            nn.init.zeros_(self.node_mlp[-1].bias)

    def forward(self, pos: torch.Tensor, score: torch.Tensor, slot: torch.Tensor,
                edge_index: torch.Tensor, edge_weight: torch.Tensor):
        """Refined positions ``mu = pos + Δ`` and ``Δ``, both ``(num_nodes, 2)``.

        Args:
            pos, score, slot, edge_index: as :meth:`KGNN2DEncoder.forward`.
            edge_weight (Tensor): ``(E, num_edge_types)`` E_ij,p (soft probabilities
                or one-hot labels).
        """
        if edge_weight.shape[-1] != self.num_edge_types:
            raise ValueError(f'edge_weight has {edge_weight.shape[-1]} types, decoder '
                             f'expects {self.num_edge_types}')
        src, dst = edge_index
        v = self.node_input(pos, score, slot)
        pair = torch.cat([v[src], v[dst]], dim=-1)
        msg = sum(edge_weight[:, p:p + 1] * mlp(pair)                          # Eq. 6
                  for p, mlp in enumerate(self.msg_mlps))
        agg = scatter(msg, dst, dim=0, dim_size=pos.shape[0], reduce=self.aggr)
        delta = self.node_mlp(torch.cat([v, agg], dim=-1))                      # Eq. 7
        return pos + delta, delta


@MODELS.register_module()
class KGNN2DHead(BaseModule):
    """2D-KGNN: edge classifier (encoder) + occluded keypoint mover (decoder).

    Args:
        categories (Sequence[str], optional): categories of the union keypoint space
            in dataset order (default: all kplink-synth categories); sets the number
            of slot embeddings.
        hidden_channels (int): MLP width (default 256 for CPU; the paper's 512).
        type_channels (int): keypoint-type embedding width.
        dropout (float): dropout in encoder and decoder MLPs, training only.
        norm (str): encoder MLP normalisation, ``'layer'`` (default, stable with few
            graphs per batch; see :class:`GraphMLP`), ``'batch'`` (NRI / public
            code) or ``'none'``.
        aggr (str): edge-to-node reduction, ``'sum'`` (paper) or ``'mean'``.
        use_score (bool): include the heatmap confidence in the node features.
        decoder_edges (str): E_ij fed to the decoder in training: ``'predicted'``
            (default; the encoder's softmax, so the decoder trains on the edge
            estimates it will see at test time and the location loss also reaches
            the encoder) or ``'labelled'`` (one-hot labels from node visibility,
            teacher forcing: decoder training is not disturbed by early encoder
            errors, at the price of a train/test mismatch). Inference always uses
            the prediction. ``'labelled'`` needs ``node_visible`` in :meth:`forward`
            or a ``visible`` node field on the graph.
        supervision (str): how :meth:`loss` supervises occluded locations:
            ``'direct'`` (labelled locations, :meth:`loss_direct`) or ``'trifocal'``
            (the caller adds the trifocal term with ``TrifocalLoss``; :meth:`loss`
            then returns only the edge loss).
        location_loss (str): ``'l1'`` or ``'mse'`` for :meth:`loss_direct`, in
            normalised box coordinates.
        edge_loss_weight (float): weight of the edge cross-entropy (Eq. 5).
        location_loss_weight (float): weight of the direct location loss.
        edge_class_weight (str | Sequence[float], optional): class weights of the
            edge cross-entropy: ``None`` (plain), ``'balanced'`` (per batch, inverse
            class frequency: visible-visible edges dominate when few keypoints are
            occluded) or ``(w_occluded, w_visible)``.
        visibility_threshold (float): P(visible) above which an edge counts as
            visible when deciding node visibility.
        visibility_direction (str): which edges decide a node's visibility:
            ``'outgoing'`` (public code), ``'incoming'`` or ``'both'``.
        appearance_channels (int): > 0 gives the ENCODER a per-node appearance
            vector of this width (the graph's ``appearance`` node field, e.g. the
            keypoint model's features sampled at the keypoint). An extension of the
            paper's V_i: (x, y, c, t) cannot tell a keypoint hidden by ANOTHER
            object from a visible one when the pose alone does not imply it.
            Default 0 (the paper's encoder).
        appearance_proj (int): width the appearance vector is projected to.
        init_cfg (dict, optional): mmengine init config.
    """

    def __init__(self,
                 categories: Optional[Sequence[str]] = None,
                 hidden_channels: int = 256,
                 type_channels: int = 32,
                 dropout: float = 0.1,
                 norm: str = 'layer',
                 aggr: str = 'sum',
                 use_score: bool = True,
                 decoder_edges: str = 'predicted',
                 supervision: str = 'direct',
                 location_loss: str = 'l1',
                 edge_loss_weight: float = 1.0,
                 location_loss_weight: float = 1.0,
                 edge_class_weight: Optional[Union[str, Sequence[float]]] = None,
                 visibility_threshold: float = 0.5,
                 visibility_direction: str = 'outgoing',
                 appearance_channels: int = 0,
                 appearance_proj: int = 32,
                 init_cfg: Optional[dict] = None):
        super().__init__(init_cfg)
        if decoder_edges not in ('predicted', 'labelled'):
            raise ValueError(f"decoder_edges must be 'predicted' or 'labelled', got "
                             f'{decoder_edges!r}')
        if supervision not in ('direct', 'trifocal'):
            raise ValueError(f"supervision must be 'direct' or 'trifocal', got "
                             f'{supervision!r}')
        if location_loss not in ('l1', 'mse'):
            raise ValueError(f"location_loss must be 'l1' or 'mse', got {location_loss!r}")
        if isinstance(edge_class_weight, str) and edge_class_weight != 'balanced':
            raise ValueError(f"edge_class_weight must be None, 'balanced' or two floats, "
                             f'got {edge_class_weight!r}')
        if edge_class_weight is not None and not isinstance(edge_class_weight, str) \
                and len(edge_class_weight) != 2:
            raise ValueError(f'edge_class_weight needs 2 values, got {edge_class_weight}')
        self.slices = category_slices(categories)
        self.num_slots = sum(n for _, n in self.slices.values())
        self.decoder_edges = decoder_edges
        self.supervision = supervision
        self.location_loss = location_loss
        self.edge_loss_weight = edge_loss_weight
        self.location_loss_weight = location_loss_weight
        self.edge_class_weight = edge_class_weight
        self.visibility_threshold = visibility_threshold
        self.visibility_direction = visibility_direction
        self.encoder = KGNN2DEncoder(self.num_slots, hidden_channels, type_channels,
                                     num_edge_types=2, dropout=dropout, norm=norm,
                                     aggr=aggr, use_score=use_score,
                                     appearance_channels=appearance_channels,
                                     appearance_proj=appearance_proj)
        self.decoder = KGNN2DDecoder(self.num_slots, hidden_channels, type_channels,
                                     num_edge_types=2, dropout=dropout, aggr=aggr,
                                     use_score=use_score)

    @property
    def appearance_channels(self) -> int:
        """Width of the encoder's per-node appearance input (0: none)."""
        return self.encoder.node_input.appearance_channels

    def init_weights(self):
        """mmengine init (``init_cfg``), then restore the zero-initialised decoder
        output so that an ``init_cfg`` on Linear layers cannot undo Δ = 0."""
        super().init_weights()
        if self.decoder.zero_init:
            nn.init.zeros_(self.decoder.node_mlp[-1].weight)
            nn.init.zeros_(self.decoder.node_mlp[-1].bias)

    def forward(self, graph, node_visible: Optional[torch.Tensor] = None
                ) -> Dict[str, torch.Tensor]:
        """Encode edges, decode refined keypoints.

        Args:
            graph (Batch): from ``build_keypoint_graphs`` (``pos``, ``score``,
                ``slot``, ``edge_index``; ``appearance`` when the head was built
                with ``appearance_channels > 0``).
            node_visible (Tensor, optional): ``(num_nodes,)`` bool labels; only used
                with ``decoder_edges='labelled'`` in training (falls back to the
                graph's ``visible`` field).

        Returns:
            dict: ``edge_logits`` (E, 2); ``edge_prob`` (E, 2) softmax, column 1 =
            P(both endpoints visible); ``edge_index`` (2, E); ``node_visibility``
            (num_nodes,) soft visibility score in [0, 1] (max over the node's edges
            of P(visible); the score for ROC); ``node_visible`` (num_nodes,) bool;
            ``delta`` and ``refined`` (num_nodes, 2) (refined = pos + delta).
        """
        pos, score, slot, edge_index = graph.pos, graph.score, graph.slot, graph.edge_index
        if slot.numel() and (int(slot.max()) >= self.num_slots or int(slot.min()) < 0):
            raise ValueError(f'slot indices must lie in [0, {self.num_slots}), got '
                             f'[{int(slot.min())}, {int(slot.max())}]')
        # the encoder's node input checks the field's presence and shape
        logits = self.encoder(pos, score, slot, edge_index,
                              getattr(graph, 'appearance', None))
        prob = logits.softmax(dim=-1)
        edge_weight = prob
        if self.training and self.decoder_edges == 'labelled':
            if node_visible is None:
                node_visible = getattr(graph, 'visible', None)
            if node_visible is None:
                raise ValueError("decoder_edges='labelled' needs node_visible (or a "
                                 "'visible' node field on the graph) in training")
            labels = edge_visibility_labels(node_visible, edge_index)
            edge_weight = F.one_hot(labels, 2).to(prob.dtype)
        refined, delta = self.decoder(pos, score, slot, edge_index, edge_weight)
        vis_score = node_visibility_from_edges(prob[:, 1], edge_index, pos.shape[0],
                                               soft=True,
                                               direction=self.visibility_direction)
        return dict(edge_logits=logits, edge_prob=prob, edge_index=edge_index,
                    node_visibility=vis_score,
                    node_visible=vis_score > self.visibility_threshold,
                    delta=delta, refined=refined)

    def _class_weight(self, labels: torch.Tensor, dtype) -> Optional[torch.Tensor]:
        if self.edge_class_weight is None:
            return None
        if self.edge_class_weight == 'balanced':
            counts = torch.bincount(labels, minlength=2).to(dtype).clamp(min=1.0)
            return labels.numel() / (2.0 * counts)
        return torch.as_tensor(self.edge_class_weight, dtype=dtype, device=labels.device)

    def loss_edges(self, out: Dict[str, torch.Tensor], node_visible: torch.Tensor,
                   node_valid: Optional[torch.Tensor] = None) -> torch.Tensor:
        """Eq. 5: cross-entropy between predicted edges and labels from visibility.

        Args:
            out (dict): :meth:`forward`'s output.
            node_visible (Tensor): ``(num_nodes,)`` bool, labelled visible.
            node_valid (Tensor, optional): ``(num_nodes,)`` bool; edges touching an
                invalid node (e.g. an unlabelled keypoint) are ignored.

        Returns:
            Tensor: scalar, times ``edge_loss_weight``.
        """
        logits, edge_index = out['edge_logits'], out['edge_index']
        labels = edge_visibility_labels(node_visible.to(logits.device), edge_index)
        if node_valid is not None:
            keep = edge_visibility_labels(node_valid.to(logits.device), edge_index).bool()
            logits, labels = logits[keep], labels[keep]
        if labels.numel() == 0:
            return out['edge_logits'].sum() * 0.0  # keeps the graph complete for DDP
        loss = F.cross_entropy(logits, labels,
                               weight=self._class_weight(labels, logits.dtype))
        return self.edge_loss_weight * loss

    def loss_direct(self, out: Dict[str, torch.Tensor], target_pos: torch.Tensor,
                    mask: torch.Tensor) -> torch.Tensor:
        """Direct supervision of decoded locations (normalised box coordinates).

        Args:
            out (dict): :meth:`forward`'s output.
            target_pos (Tensor): ``(num_nodes, 2)`` labelled locations (only rows
                selected by ``mask`` are read).
            mask (Tensor): ``(num_nodes,)`` bool, the nodes to supervise (the
                labelled occluded keypoints).

        Returns:
            Tensor: scalar mean over masked nodes and both coordinates, times
            ``location_loss_weight``.
        """
        refined = out['refined']
        mask = mask.to(refined.device).bool()
        if not mask.any():
            return refined.sum() * 0.0
        pred, target = refined[mask], target_pos.to(refined)[mask]
        if self.location_loss == 'l1':
            loss = F.l1_loss(pred, target)
        else:
            loss = F.mse_loss(pred, target)
        return self.location_loss_weight * loss

    def loss(self, out: Dict[str, torch.Tensor], node_visible: torch.Tensor,
             target_pos: Optional[torch.Tensor] = None,
             location_mask: Optional[torch.Tensor] = None,
             node_valid: Optional[torch.Tensor] = None) -> Dict[str, torch.Tensor]:
        """``loss_edge`` and, with ``supervision='direct'``, ``loss_location``."""
        losses = dict(loss_edge=self.loss_edges(out, node_visible, node_valid))
        if self.supervision == 'direct':
            if target_pos is None or location_mask is None:
                raise ValueError("supervision='direct' needs target_pos and location_mask")
            losses['loss_location'] = self.loss_direct(out, target_pos, location_mask)
        return losses

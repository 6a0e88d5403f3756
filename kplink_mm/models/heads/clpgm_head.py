"""CLPGM: KLPNet's Conditional Link Prediction Graph Module (§3.3, Eq. 4-8, Fig. 2).

One graph per target (a top-down crop of one instance). Its nodes are the target's
keypoints: at training the ground-truth keypoints inside the crop (optionally
jittered), at inference the CKLM peaks named by nearest canonical feature. A node's
features are

    x_i = [F(p_i), 2 p_i / (w, h) - 1, f_i, e_C]

with F(p_i) the backbone feature map bilinearly sampled at the node, the location
normalised to [-1, 1] over the input, f_i the canonical 3D feature (D = 3) and e_C a
learned embedding of the target category C.

Encoder (VGAE, Eq. 6): ``num_layers`` GCN layers h <- tanh(P h W + h W_root) gated
per category, with P = D^-1/2 (A + I) D^-1/2 (GCNConv), then GCN heads for mu and
log sigma; z = mu + eps * sigma while training. Decoder (Eq. 7): the inner product
A_hat_ij = sigma(z_i . z_j) (torch_geometric's ``InnerProductDecoder`` in ``VGAE``).

The input graph A is the fully connected graph over the target's nodes (the true
skeleton is the target of the reconstruction, so it cannot be the input); GCNConv adds
the self loops (§3.3.1: "the diagonal elements of A are set to 1").

Two reading choices:

* **Root weight.** On a complete graph with self loops the normalised propagation
  matrix is ``P = 11ᵀ / N``: every row is the same, so a pure ``tanh(P X W)`` gives
  every node the same embedding after one layer and all links the same
  probability. Each layer therefore adds a separately weighted self term
  ``h W_root`` (GraphSAGE/GraphConv-style; ``root_weight=False`` is the literal
  ``tanh(P X W)``; measured on the synthetic problem of the unit tests: link
  ROC-AUC 0.50 without, 0.98 with).
* **Per-category node activation** (§3.3.2). The category conditions the encoder
  twice: e_C is concatenated to every node's input (q(Z | X, A, C) of Eq. 6), and
  every hidden layer is multiplied by a per-category gate ``2 sigmoid(g_C)`` (zero
  initialised, so 1 at the start): each category switches its own hidden units on
  or off ("the nodes with the same target label C are activated"), and a category's
  gate only receives gradients from its own targets ("the rest nodes are retained").
  The canonical features of different categories overlap (the same [-0.5, 0.5]
  box), so without the category the encoder cannot tell whose skeleton to draw
  (synthetic car + chair problem: AUC 0.92 without conditioning, 0.98 with).

Loss (the piecewise link loss, Eq. 6 and 8), per target with label c_i and optional
category prediction c:

    c == c_i (always in top-down training with GT categories):
        -ELBO = BCE(positive links) + BCE(negative pairs) + KL(q || N(0, I)) / N
    c != c_i:
        ||p(c) - onehot(c_i)||^2

The positives are the category skeleton restricted to the nodes present; negatives
all other pairs of the graph (or ``negative_sampling``); BCE terms are the mean over
positives plus the mean over negatives, the KL term ``VGAE.kl_loss() / num_nodes``
(the convention of torch_geometric's VGAE example). The disagreement branch reads
(c - c_i)^2 with c and c_i as category *distributions* (the prediction's
probabilities and the label's one-hot vector): squared differences of category ids
would make an arbitrary id order a distance. With a hard prediction the term is the
constant 2 (no gradient: it only reports how often the conditioning was wrong); with
predicted probabilities it is the Brier score and trains the category classifier.
"""
import functools
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from torch import nn
from torch_geometric.data import Batch, Data
from torch_geometric.nn import VGAE, GCNConv
from torch_geometric.utils import negative_sampling, scatter

from mmpose.registry import MODELS

from ...datasets.metainfo import category_slices
from ...datasets.synth.categories import CategorySpec, get_category
from ...evaluation.functional import identify_keypoints

__all__ = ['CLPGMEncoder', 'CLPGMHead', 'complete_graph', 'skeleton_edges']

CategoryLike = Union[str, int, CategorySpec, np.integer, torch.Tensor, np.ndarray]


def _spec(category: CategoryLike) -> CategorySpec:
    """A category given by name, kplink category id (also a 0-d/1-element array)."""
    if isinstance(category, (torch.Tensor, np.ndarray)):
        value = category.cpu().numpy() if isinstance(category, torch.Tensor) else category
        category = int(np.asarray(value).reshape(-1)[0])
    return get_category(category)


@functools.lru_cache(maxsize=None)
def _skeleton_adjacency(name: str) -> np.ndarray:
    spec = get_category(name)
    adj = np.zeros((spec.num_keypoints, spec.num_keypoints), bool)
    for a, b in spec.skeleton:
        adj[a, b] = adj[b, a] = True
    return adj


def complete_graph(num_nodes: int, device=None) -> torch.Tensor:
    """``(2, N (N - 1))`` edge index of the fully connected graph, both directions,
    no self loops (GCNConv adds them)."""
    idx = torch.arange(num_nodes, device=device)
    src, dst = idx.repeat_interleave(num_nodes), idx.repeat(num_nodes)
    keep = src != dst
    return torch.stack([src[keep], dst[keep]])


def skeleton_edges(category: CategoryLike, slots) -> torch.Tensor:
    """The category's skeleton links among the nodes present.

    Args:
        category: name, kplink category id or ``CategorySpec``.
        slots: ``(N,)`` slice-local keypoint index of each node (0-based, the index
            into ``spec.keypoint_names``), -1 for a node of unknown identity.

    Returns:
        Tensor: ``(E, 2)`` int64 node-index pairs ``i < j`` whose slots are linked in
        ``spec.skeleton``. Nodes with slot -1 have no link; two nodes with the same
        slot both get that slot's links.
    """
    spec = _spec(category)
    slots = torch.as_tensor(slots).long().reshape(-1)
    bad = (slots < -1) | (slots >= spec.num_keypoints)
    if bad.any():
        raise ValueError(f'slots {slots[bad].tolist()} out of range for {spec.name!r} '
                         f'({spec.num_keypoints} keypoints; -1 = unknown)')
    n = slots.numel()
    i, j = torch.triu_indices(n, n, 1, device=slots.device)
    si, sj = slots[i], slots[j]
    adj = torch.as_tensor(_skeleton_adjacency(spec.name), device=slots.device)
    link = (si >= 0) & (sj >= 0) & adj[si.clamp(min=0), sj.clamp(min=0)]
    return torch.stack([i[link], j[link]], dim=1)


class CLPGMEncoder(nn.Module):
    """Category-conditioned GCN encoder returning ``(mu, logstd)`` (Eq. 6).

    Args:
        in_channels (int): node feature width without the category embedding.
        hidden_channels (int): width of the tanh GCN layers.
        latent_channels (int): F, the width of Z.
        num_layers (int): tanh GCN layers before the mu / log sigma GCN heads.
        num_categories (int): rows of the category embedding and gates.
        category_channels (int): width of the concatenated category embedding e_C
            (0: none).
        category_gate (bool): multiply every hidden layer by ``2 sigmoid(g_C)``.
        root_weight (bool): add a separately weighted self term to every GCN layer
            (see the module docstring: without it a complete graph makes all
            nodes equal).
        logstd_init (float): initial bias of the log sigma head (see CLPGMHead).
    """

    def __init__(self, in_channels: int, hidden_channels: int, latent_channels: int,
                 num_layers: int, num_categories: int, category_channels: int = 16,
                 category_gate: bool = True, root_weight: bool = True,
                 logstd_init: float = 0.0):
        super().__init__()
        self.logstd_init = float(logstd_init)
        if num_layers < 1:
            raise ValueError(f'num_layers must be >= 1, got {num_layers}')
        self.category_embed = nn.Embedding(num_categories, category_channels) \
            if category_channels > 0 else None
        widths = [in_channels + max(category_channels, 0)] + [hidden_channels] * num_layers
        self.convs = nn.ModuleList(
            [GCNConv(a, b) for a, b in zip(widths[:-1], widths[1:])])
        self.roots = nn.ModuleList(
            [nn.Linear(a, b, bias=False) for a, b in zip(widths[:-1], widths[1:])]
        ) if root_weight else None
        self.gates = nn.ModuleList(
            [nn.Embedding(num_categories, hidden_channels) for _ in range(num_layers)]
        ) if category_gate else None
        self.conv_mu = GCNConv(hidden_channels, latent_channels)
        self.conv_logstd = GCNConv(hidden_channels, latent_channels)
        self.root_mu = nn.Linear(hidden_channels, latent_channels, bias=False) \
            if root_weight else None
        self.root_logstd = nn.Linear(hidden_channels, latent_channels, bias=False) \
            if root_weight else None
        self.reset_parameters()

    def reset_parameters(self):
        # Defined here because VGAE's constructor resets its encoder: the gates
        # must come back as zeros (gate 1), not N(0, 1) like a default Embedding.
        for m in [*self.convs, self.conv_mu, self.conv_logstd]:
            m.reset_parameters()
        for m in [*(self.roots or []), self.root_mu, self.root_logstd]:
            if m is not None:
                m.reset_parameters()
        nn.init.constant_(self.conv_logstd.bias, self.logstd_init)
        if self.category_embed is not None:
            nn.init.normal_(self.category_embed.weight, std=0.1)
        for g in self.gates or []:
            nn.init.zeros_(g.weight)

    def _layer(self, conv, root, h, edge_index):
        out = conv(h, edge_index)
        return out if root is None else out + root(h)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                category: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """``x`` (num_nodes, in), ``edge_index`` (2, E), ``category`` (num_nodes,)
        head category index of every node -> mu, logstd (num_nodes, F)."""
        h = x
        if self.category_embed is not None:
            h = torch.cat([h, self.category_embed(category)], dim=-1)
        for layer, conv in enumerate(self.convs):
            root = self.roots[layer] if self.roots is not None else None
            h = torch.tanh(self._layer(conv, root, h, edge_index))
            if self.gates is not None:
                h = h * 2 * torch.sigmoid(self.gates[layer](category))
        return (self._layer(self.conv_mu, self.root_mu, h, edge_index),
                self._layer(self.conv_logstd, self.root_logstd, h, edge_index))


@MODELS.register_module()
class CLPGMHead(BaseModule):
    """Conditional link prediction over the keypoints of each target (KLPNet §3.3).

    Args:
        in_channels (int): channels of the feature map sampled at the nodes; 0 uses
            no image features (``feats`` may then be None).
        in_index (int): which level to sample when ``feats`` is a sequence (CKLM's
            order is finest first, so 0 = the finest level).
        categories (Sequence[str], optional): categories of the union keypoint space,
            in dataset order (default: all kplink-synth categories). Sets the rows of
            the category embedding / gates and the union slot of each keypoint.
        canonical_dim (int): D, the width of the canonical feature of a node.
        hidden_channels (int): width of the tanh GCN layers.
        latent_channels (int): F, the width of Z. The inner-product decoder can
            represent any skeleton of n keypoints once F >= n (sign pattern of
            ``2A - 11ᵀ + cI``), so the default 16 covers kplink-synth's <= 12.
        num_layers (int): tanh GCN layers before the mu / log sigma heads (the paper
            projects to Z "after the first four layers": 3 + the heads).
        category_channels (int): width of the concatenated category embedding e_C
            (0 disables it).
        category_gate (bool): per-category multiplicative gates on hidden units.
        root_weight (bool): separately weighted self term in every GCN layer.
        feature_channels (int, optional): pass the sampled image features through
            LayerNorm + Linear(in_channels, feature_channels) before they join the
            node vector; None concatenates them raw.
        logstd_init (float): initial bias of the log sigma head; 0 starts with
            sigma = 1 (torch_geometric's default).
        snap_canonical (bool): inference nodes carry the canonical point of the
            keypoint they were named (the training input, GT canonical + jitter)
            instead of CKLM's raw predicted feature, whose errors the link head
            never saw in training.
        negatives (str): ``'all'`` (every non-link pair of the graph: at most 66 for
            12 nodes, so exact) or ``'sampled'`` (``negative_sampling``,
            ``neg_ratio`` negatives per positive).
        neg_ratio (float): negatives per positive for ``'sampled'``.
        recon_weight, kl_weight, category_weight (float): weights of the
            reconstruction, KL and category-disagreement terms.

    Training on real backbone features (measured, see docs/klpnet.md "Link head
    training"): with the defaults (raw 64-channel features, sigma = 1 at start,
    kl_weight 1) the link head collapses on the frozen CKLM's features: the noisy
    z = mu + sigma eps gives confident random logits, the optimiser shrinks z to
    the inner-product decoder's saddle z = 0 (all links 0.5) and the KL keeps it
    there (held-out AUC 0.52 after 200 steps). Three settings, used by the KLPNet
    configs, fix it: ``logstd_init=-3`` (sigma 0.05 at start),
    ``kl_weight=0.01`` (the per-target KL / N is ~B times torch_geometric's
    per-batch-graph convention) and ``feature_channels=8`` (the 64 raw channels
    drown the 5 geometric ones); with Adam lr 1e-2: AUC 0.96-0.97 (3 seeds).
        loss_weight (float): beta of Eq. 8, multiplies all three.
        position_jitter (float): training only: std of Gaussian noise added to node
            positions, as a fraction of max(w, h) of the input (simulates CKLM's
            localisation error on ground-truth nodes).
        canonical_jitter (float): training only: std of the noise added to the
            canonical features (CKLM's identity error).
    """

    def __init__(self,
                 in_channels: int = 0,
                 in_index: int = 0,
                 categories: Optional[Sequence[str]] = None,
                 canonical_dim: int = 3,
                 hidden_channels: int = 64,
                 latent_channels: int = 16,
                 num_layers: int = 3,
                 category_channels: int = 16,
                 category_gate: bool = True,
                 root_weight: bool = True,
                 feature_channels: Optional[int] = None,
                 logstd_init: float = 0.0,
                 snap_canonical: bool = False,
                 negatives: str = 'all',
                 neg_ratio: float = 1.0,
                 recon_weight: float = 1.0,
                 kl_weight: float = 1.0,
                 category_weight: float = 1.0,
                 loss_weight: float = 1.0,
                 position_jitter: float = 0.0,
                 canonical_jitter: float = 0.0,
                 init_cfg=None):
        super().__init__(init_cfg)
        if negatives not in ('all', 'sampled'):
            raise ValueError(f"negatives must be 'all' or 'sampled', got {negatives!r}")
        self.in_channels = int(in_channels)
        self.in_index = in_index
        self.canonical_dim = canonical_dim
        self.slices = category_slices(categories)
        self.category_names = list(self.slices)
        self.category_index = {name: i for i, name in enumerate(self.category_names)}
        self.negatives = negatives
        self.neg_ratio = neg_ratio
        self.weights = dict(recon=recon_weight, kl=kl_weight, category=category_weight)
        self.loss_weight = loss_weight
        self.position_jitter = position_jitter
        self.canonical_jitter = canonical_jitter
        self.snap_canonical = snap_canonical
        # Optional LayerNorm + linear projection of the sampled image features
        # (see the class docstring for why).
        self.feature_proj = None
        image_channels = self.in_channels
        if self.in_channels > 0 and feature_channels is not None:
            self.feature_proj = nn.Sequential(nn.LayerNorm(self.in_channels),
                                              nn.Linear(self.in_channels, feature_channels))
            image_channels = int(feature_channels)
        node_channels = image_channels + 2 + canonical_dim
        encoder = CLPGMEncoder(node_channels, hidden_channels, latent_channels, num_layers,
                               len(self.category_names), category_channels,
                               category_gate, root_weight, logstd_init)
        self.vgae = VGAE(encoder)  # decoder: InnerProductDecoder, sigma(z_i . z_j)

    # ------------------------------------------------------------------ inputs
    def _category(self, category: CategoryLike, where: str) -> Tuple[CategorySpec, int]:
        spec = _spec(category)
        if spec.name not in self.category_index:
            raise KeyError(f'{where}: category {spec.name!r} is not one of the head\'s '
                           f'categories {self.category_names}')
        return spec, self.category_index[spec.name]

    def _feature_map(self, feats) -> Optional[torch.Tensor]:
        if self.in_channels == 0:
            return None
        if isinstance(feats, (list, tuple)):
            feats = feats[self.in_index]
        if not isinstance(feats, torch.Tensor) or feats.dim() != 4 or \
                feats.shape[1] != self.in_channels:
            shape = tuple(feats.shape) if isinstance(feats, torch.Tensor) else type(feats)
            raise ValueError(f'CLPGMHead expects a (B, {self.in_channels}, H, W) feature '
                             f'map (in_channels={self.in_channels}), got {shape}')
        return feats

    @staticmethod
    def sample_features(fmap: torch.Tensor, positions: torch.Tensor,
                        input_size: Tuple[float, float]) -> torch.Tensor:
        """Bilinear features ``(N, C)`` of one map ``(C, H, W)`` at ``positions``
        ``(N, 2)`` in input pixels.

        Feature pixel (u, v) sits at input coordinate (u * w / W, v * h / H), the
        convention of the CategoryImplicitHeatmap codec; with ``align_corners=False``
        grid_sample's normalised coordinate of u is (2u + 1) / W - 1. Nodes outside
        the map take the border features.
        """
        C, H, W = fmap.shape
        w, h = float(input_size[0]), float(input_size[1])
        grid = torch.stack([2 * positions[:, 0] / w + 1.0 / W - 1,
                            2 * positions[:, 1] / h + 1.0 / H - 1], dim=-1)
        out = F.grid_sample(fmap[None], grid[None, None].to(fmap.dtype), mode='bilinear',
                            padding_mode='border', align_corners=False)
        return out[0, :, 0].t()

    def _node_tensors(self, t: int, inp: dict, device, dtype):
        where = f'graph_inputs[{t}]'
        for key in ('positions', 'canonical', 'category', 'input_size'):
            if key not in inp:
                raise KeyError(f"{where} has no '{key}'")
        pos = torch.as_tensor(inp['positions'], dtype=dtype, device=device)
        n = pos.shape[0] if pos.dim() == 2 else -1
        if pos.dim() != 2 or pos.shape[1] != 2:
            raise ValueError(f'{where}.positions has shape {tuple(pos.shape)}; expected '
                             '(N, 2) input pixels')
        canon = torch.as_tensor(inp['canonical'], dtype=dtype, device=device)
        if canon.shape != (n, self.canonical_dim):
            raise ValueError(f'{where}.canonical has shape {tuple(canon.shape)}; expected '
                             f'({n}, {self.canonical_dim})')
        slots = inp.get('slots')
        slots = torch.full((n,), -1, dtype=torch.long, device=device) if slots is None \
            else torch.as_tensor(slots, device=device).long().reshape(-1)
        if slots.shape != (n,):
            raise ValueError(f'{where}.slots has {slots.numel()} values; expected {n}')
        size = [float(v) for v in np.asarray(inp['input_size'], np.float64).reshape(-1)]
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f'{where}.input_size must be (w, h) > 0, got {size}')
        return pos, canon, slots, size

    # ------------------------------------------------------------------ forward
    def forward(self, feats, graph_inputs: Sequence[dict]) -> Dict[str, object]:
        """Encode one graph per target.

        Args:
            feats: a feature map ``(B, C, H, W)`` or a sequence of levels (level
                ``in_index`` is sampled); ignored when ``in_channels == 0``.
            graph_inputs (Sequence[dict]): one dict per target: ``positions``
                ``(N, 2)`` input pixels, ``canonical`` ``(N, D)``, ``slots`` ``(N,)``
                slice-local keypoint index or -1 (optional, default all -1),
                ``category`` (name or kplink id; the label at training, the
                predicted category at inference), ``input_size`` ``(w, h)``;
                optional ``batch_index`` (which image of ``feats``, default the
                target's position in the list), ``pred_category`` (see
                :meth:`loss`) and ``jitter`` (default True: the training-time
                position / canonical jitter applies to this graph).

        Returns:
            dict: ``graph`` (torch_geometric ``Batch`` with ``x``, ``edge_index``
            (complete graphs), ``slots``, ``node_category`` (head category index
            per node), ``category`` (per graph), ``batch``, ``ptr``), ``mu``,
            ``logstd`` (num_nodes, F), ``z`` (a sample of q(Z) while training,
            ``mu`` in eval mode).
        """
        if len(graph_inputs) == 0:
            raise ValueError('CLPGMHead needs at least one target in graph_inputs')
        fmap = self._feature_map(feats)
        param = next(self.parameters())
        device = fmap.device if fmap is not None else param.device
        dtype = fmap.dtype if fmap is not None else param.dtype
        data_list = []
        for t, inp in enumerate(graph_inputs):
            pos, canon, slots, size = self._node_tensors(t, inp, device, dtype)
            _, cat_index = self._category(inp['category'], f'graph_inputs[{t}]')
            n = pos.shape[0]
            jitter = self.training and inp.get('jitter', True)
            if jitter and self.position_jitter > 0:
                pos = pos + torch.randn_like(pos) * self.position_jitter * max(size)
            if jitter and self.canonical_jitter > 0:
                canon = canon + torch.randn_like(canon) * self.canonical_jitter
            parts = [2 * pos / pos.new_tensor(size) - 1, canon]
            if fmap is not None:
                b = int(inp.get('batch_index', t))
                if not 0 <= b < fmap.shape[0]:
                    raise IndexError(f'graph_inputs[{t}]: batch_index {b} but the feature '
                                     f'map holds {fmap.shape[0]} images')
                sampled = self.sample_features(fmap[b], pos, size)
                if self.feature_proj is not None:
                    sampled = self.feature_proj(sampled)
                parts.insert(0, sampled)
            data_list.append(Data(
                x=torch.cat(parts, dim=-1), edge_index=complete_graph(n, device),
                slots=slots, num_nodes=n,
                node_category=torch.full((n,), cat_index, dtype=torch.long, device=device),
                category=torch.tensor([cat_index], dtype=torch.long, device=device)))
        graph = Batch.from_data_list(data_list)
        z = self.vgae.encode(graph.x, graph.edge_index, graph.node_category)
        # VGAE.encode keeps mu and the clamped log sigma of this call.
        return dict(graph=graph, mu=self.vgae.__mu__, logstd=self.vgae.__logstd__, z=z)

    # ------------------------------------------------------------------ loss
    def _category_term(self, inp: dict, label: int, t: int, ref: torch.Tensor):
        """(agree, disagreement term or None) of one target."""
        pred = inp.get('pred_category')
        if pred is None:
            return True, None
        num = len(self.category_names)
        target = F.one_hot(torch.tensor(label, device=ref.device), num).to(ref.dtype)
        # a float tensor holds probabilities; names and (integer) ids are hard
        if isinstance(pred, torch.Tensor) and pred.is_floating_point():
            if pred.shape != (num,):
                raise ValueError(f'graph_inputs[{t}].pred_category has shape '
                                 f'{tuple(pred.shape)}; expected ({num},) probabilities '
                                 f'over {self.category_names}, or a category name / id')
            probs = pred.to(ref.device, ref.dtype)
        else:
            _, index = self._category(pred, f'graph_inputs[{t}].pred_category')
            probs = F.one_hot(torch.tensor(index, device=ref.device), num).to(ref.dtype)
        agree = int(probs.argmax()) == label
        return agree, None if agree else ((probs - target) ** 2).sum()

    def _pairs(self, spec: CategorySpec, slots: torch.Tensor):
        """Positive and negative node-index pairs (i < j) of one graph."""
        n = slots.numel()
        pos = skeleton_edges(spec, slots)
        if self.negatives == 'all':
            i, j = torch.triu_indices(n, n, 1, device=slots.device)
            is_pos = torch.zeros(n, n, dtype=torch.bool, device=slots.device)
            is_pos[pos[:, 0], pos[:, 1]] = True
            keep = ~is_pos[i, j]
            return pos, torch.stack([i[keep], j[keep]], dim=1)
        # Sampled: both directions of every link are "positive" so neither direction
        # of a link comes back as a negative; then keep i < j, unique.
        both = torch.cat([pos, pos.flip(1)]).t()
        num_neg = max(1, int(round(self.neg_ratio * max(len(pos), 1))))
        neg = negative_sampling(both, n, num_neg_samples=num_neg).t()
        neg = torch.sort(neg, dim=1).values
        neg = torch.unique(neg[neg[:, 0] != neg[:, 1]], dim=0)
        return pos, neg.reshape(-1, 2)

    def loss(self, out: dict, graph_inputs: Sequence[dict]) -> Dict[str, torch.Tensor]:
        """The piecewise link loss (Eq. 6), weighted by ``loss_weight`` (beta, Eq. 8).

        Per target: when the category prediction agrees with the label (or no
        ``pred_category`` is given) the negative ELBO, reconstruction BCE over the
        skeleton links among the present nodes (positives) and the other pairs
        (negatives) plus ``VGAE.kl_loss / num_nodes``; when it disagrees
        ``||p - onehot(label)||^2`` with ``p`` the predicted probabilities (a 1-D
        float tensor over the head's categories, gradients flow into it) or the
        one-hot vector of a hard prediction (name / id). Each term is summed over
        its targets and divided by the number of targets, so the three sum to the
        mean piecewise loss.

        Returns:
            dict: ``loss_link_recon``, ``loss_link_kl``, ``loss_link_category``.
        """
        graph, z, mu, logstd = out['graph'], out['z'], out['mu'], out['logstd']
        num_graphs = graph.num_graphs
        if len(graph_inputs) != num_graphs:
            raise ValueError(f'{len(graph_inputs)} graph_inputs for {num_graphs} graphs')
        ptr = graph.ptr.tolist()
        pairs, labels, owner = [], [], []
        kl_terms, cat_terms = [], []
        for g, inp in enumerate(graph_inputs):
            label = int(graph.category[g])
            agree, cat_term = self._category_term(inp, label, g, z)
            if not agree:
                cat_terms.append(cat_term)
                continue
            s, e = ptr[g], ptr[g + 1]
            if e == s:
                continue
            spec = get_category(self.category_names[label])
            pos, neg = self._pairs(spec, graph.slots[s:e])
            for p, y in ((pos, 1.0), (neg, 0.0)):
                pairs.append(p + s)
                labels.append(z.new_full((len(p),), y))
                owner.append(torch.full((len(p),), g, dtype=torch.long, device=z.device))
            kl_terms.append(self.vgae.kl_loss(mu[s:e], logstd[s:e]) / (e - s))
        # An empty term is a zero that still depends on z (keeps DDP's graph complete);
        # new_zeros + ... avoids printing -0.0.
        zero = z.new_zeros(()) + 0.0 * z.sum()
        recon = zero
        if pairs:
            pairs, labels, owner = torch.cat(pairs), torch.cat(labels), torch.cat(owner)
            if len(pairs):
                logits = self.vgae.decoder(z, pairs.t(), sigmoid=False)
                bce = F.binary_cross_entropy_with_logits(logits, labels, reduction='none')
                # per graph: mean over positives + mean over negatives (GAE.recon_loss)
                for cls in (1.0, 0.0):
                    m = labels == cls
                    if m.any():
                        recon = recon + scatter(bce[m], owner[m], dim=0,
                                                dim_size=num_graphs, reduce='mean').sum()
        kl = torch.stack(kl_terms).sum() if kl_terms else zero
        cat = torch.stack(cat_terms).sum() if cat_terms else zero
        beta = self.loss_weight / num_graphs
        return dict(loss_link_recon=beta * self.weights['recon'] * recon,
                    loss_link_kl=beta * self.weights['kl'] * kl,
                    loss_link_category=beta * self.weights['category'] * cat)

    # ------------------------------------------------------------------ predict
    @torch.no_grad()
    def predict_links(self, out: dict, deterministic: bool = True) -> List[dict]:
        """Link probabilities between every pair of nodes of every target (Eq. 7).

        Args:
            out (dict): the output of :meth:`forward`.
            deterministic (bool): the non-probabilistic variant (§3.3.3), z = mu;
                False draws z ~ q(Z | X, A, C) once.

        Returns:
            list[dict]: per target ``pairs`` (M, 2) int64 node indices with i < j
            (M = N (N - 1) / 2), ``scores`` (M,) link probabilities
            sigma(z_i . z_j), ``slot_pairs`` (M, 2) the nodes' slice-local slots
            (-1 unknown).
        """
        graph, mu, logstd = out['graph'], out['mu'], out['logstd']
        z = mu if deterministic else mu + torch.randn_like(mu) * torch.exp(logstd)
        ptr = graph.ptr.tolist()
        results = []
        for g in range(graph.num_graphs):
            s, e = ptr[g], ptr[g + 1]
            n = e - s
            i, j = torch.triu_indices(n, n, 1, device=z.device)
            pairs = torch.stack([i, j], dim=1)
            scores = self.vgae.decoder(z, (pairs + s).t(), sigmoid=True)
            results.append(dict(pairs=pairs, scores=scores,
                                slot_pairs=graph.slots[s:e][pairs]))
        return results

    def link_fields(self, links: Sequence[dict],
                    graph_inputs: Sequence[dict]) -> List[dict]:
        """``pred_instances`` fields read by ``LinkPredictionMetric``, per target:
        ``link_pairs`` (1, M, 2) int64 **union** slot indices (-1: node of unknown
        identity) and ``link_scores`` (1, M) float32; for nodes made from peaks
        (``graph_inputs_from_peaks``: ``peak_index``) also ``link_peak_pairs``
        (1, M, 2) int64, the peak each endpoint is, which the metric's
        ``labels='position'`` reads. The leading 1 is the instance axis of a
        top-down sample (InstanceData wants one length for all fields)."""
        fields = []
        for t, (link, inp) in enumerate(zip(links, graph_inputs)):
            spec, _ = self._category(inp['category'], f'graph_inputs[{t}]')
            slot = link['slot_pairs'].detach().cpu().numpy().astype(np.int64)
            union = np.where(slot >= 0, slot + self.slices[spec.name][0], -1)
            field = dict(
                link_pairs=union.reshape(1, -1, 2),
                link_scores=link['scores'].detach().cpu().numpy().astype(np.float32)
                .reshape(1, -1))
            if inp.get('peak_index') is not None:
                peak_index = np.asarray(inp['peak_index'], np.int64).reshape(-1)
                pairs = link['pairs'].detach().cpu().numpy().astype(np.int64)
                field['link_peak_pairs'] = peak_index[pairs].reshape(1, -1, 2)
            fields.append(field)
        return fields

    # ------------------------------------------------------------------ node sets
    def graph_inputs_from_gt(self, keypoints, keypoints_visible, category: CategoryLike,
                             input_size: Tuple[float, float]) -> dict:
        """Training nodes: the labelled ground-truth keypoints inside the input.

        Args:
            keypoints: ``(K, 2)`` in input pixels, K = the union size or the
                category's keypoint count.
            keypoints_visible: ``(K,)``; > 0 = labelled (visible or occluded).
            category: name or kplink id.
            input_size: ``(w, h)``.

        Returns:
            dict: a ``graph_inputs`` entry whose canonical features are the
            category's canonical keypoints (CKLM's regression target).
        """
        spec, _ = self._category(category, 'graph_inputs_from_gt')
        start, count = self.slices[spec.name]
        kpts = np.asarray(keypoints, np.float32).reshape(-1, 2)
        vis = np.asarray(keypoints_visible, np.float32).reshape(-1)
        if len(kpts) != count:
            if len(kpts) < start + count:
                raise ValueError(f'keypoints has {len(kpts)} rows; expected {count} '
                                 f"({spec.name}) or the union's {start + count}+")
            kpts, vis = kpts[start:start + count], vis[start:start + count]
        w, h = (float(v) for v in input_size)
        keep = (vis > 0) & (kpts[:, 0] >= 0) & (kpts[:, 0] < w) & \
            (kpts[:, 1] >= 0) & (kpts[:, 1] < h)
        slots = np.nonzero(keep)[0]
        return dict(positions=kpts[slots], canonical=spec.canonical_keypoints()[slots],
                    slots=slots.astype(np.int64), category=spec.name, input_size=(w, h))

    def graph_inputs_from_peaks(self, peaks, peak_scores, peak_features,
                                category: CategoryLike, input_size: Tuple[float, float],
                                score_thr: float = 0.0) -> dict:
        """Inference nodes: the CKLM peaks named by nearest canonical feature.

        ``identify_keypoints`` gives each keypoint slot its nearest peak; the nodes are
        the distinct chosen peaks (a peak chosen by several slots keeps the slot whose
        canonical point is nearest to its feature). Unnamed peaks are left out.

        Args:
            peaks: ``(P, 2)`` (or ``(1, P, 2)``) input pixels.
            peak_scores: ``(P,)``.
            peak_features: ``(P, D)`` predicted canonical features.
            category: the target's (predicted) category.
            input_size: ``(w, h)``.
            score_thr (float): peaks at or below are no candidates.
        """
        spec, _ = self._category(category, 'graph_inputs_from_peaks')
        peaks = np.asarray(peaks, np.float32).reshape(-1, 2)
        scores = np.asarray(peak_scores, np.float32).reshape(-1)
        feats = np.asarray(peak_features, np.float32).reshape(len(peaks), -1)
        canonical = spec.canonical_keypoints()
        _, _, chosen = identify_keypoints(peaks, scores, feats, canonical, score_thr)
        nodes = sorted({int(c) for c in chosen if c >= 0})
        slots = []
        for p in nodes:
            cand = np.nonzero(chosen == p)[0]
            d = np.linalg.norm(canonical[cand] - feats[p], axis=-1)
            slots.append(int(cand[d.argmin()]))
        canon = canonical[slots] if self.snap_canonical and nodes else feats[nodes]
        return dict(positions=peaks[nodes], canonical=canon,
                    slots=np.asarray(slots, np.int64), category=spec.name,
                    input_size=tuple(float(v) for v in input_size),
                    peak_index=np.asarray(nodes, np.int64))

"""Keypoint graphs of Occlusion-Net (§3.1): one fully connected graph per instance.

Every instance becomes a torch_geometric ``Data`` whose nodes are its category's
keypoints (7-12 of them, so graphs differ in size) and whose edges are all ordered
pairs ``(i, j)``, ``i != j``. ``Batch.from_data_list`` then offsets the edge indices,
so a batch of mixed categories is one big disconnected graph.

Edge convention (torch_geometric's ``source_to_target`` flow): ``edge_index[0]`` is
the sender ``i``, ``edge_index[1]`` the receiver ``j`` of edge ``(i, j)``; messages
are summed at ``edge_index[1]``. Edge classes: 1 = both endpoints visible (the
paper's E_ij = 1), 0 = at least one endpoint occluded.
"""
from typing import Optional, Sequence, Union

import numpy as np
import torch
from torch_geometric.data import Batch, Data
from torch_geometric.utils import scatter

__all__ = ['fully_connected_edge_index', 'build_keypoint_graphs', 'edge_visibility_labels',
           'node_visibility_from_edges']

ArrayLike = Union[np.ndarray, torch.Tensor, Sequence[float]]


def fully_connected_edge_index(num_nodes: int, device=None) -> torch.Tensor:
    """``(2, N(N-1))`` long: every ordered pair ``(i, j)`` with ``i != j``.

    Sender-major order (all edges leaving node 0 first), which makes the edge of
    ``(i, j)`` easy to find by hand: ``i * (N - 1) + (j if j < i else j - 1)``.
    """
    adj = ~torch.eye(num_nodes, dtype=torch.bool, device=device)
    return adj.nonzero().t().contiguous()


def _as_tensor(value: ArrayLike, dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().to(dtype=dtype, device='cpu')
    return torch.as_tensor(np.asarray(value), dtype=dtype)


def build_keypoint_graphs(keypoints: Sequence[ArrayLike],
                          scores: Sequence[ArrayLike],
                          slot_index: Sequence[ArrayLike],
                          device: Optional[Union[str, torch.device]] = None,
                          **node_fields: Sequence[ArrayLike]) -> Batch:
    """A ``Batch`` of fully connected directed graphs without self loops.

    Args:
        keypoints (Sequence): per instance, ``(N_c, 2)`` keypoint positions normalised
            to ``[-1, 1]`` over the instance's box (the graph's coordinate frame).
        scores (Sequence): per instance, ``(N_c,)`` keypoint confidences.
        slot_index (Sequence): per instance, ``(N_c,)`` union slot index of every node
            (``category_slices()[name][0] + k`` for the category's k-th keypoint); it
            names the keypoint type t_i and, through the slice, the category.
        device (str | torch.device, optional): move the batch there.
        **node_fields: extra per-node attributes, each a sequence (one entry per
            instance) of arrays with leading dimension ``N_c`` (e.g. ``visible=...``,
            ``target=...``); they are concatenated in node order like ``pos``.

    Returns:
        torch_geometric.data.Batch: ``pos`` (num_nodes, 2) float, ``score``
        (num_nodes,) float, ``slot`` (num_nodes,) long, ``edge_index`` (2, E) long,
        ``num_keypoints`` (B,) long (nodes per graph), plus ``batch`` and ``ptr``
        (graph b owns nodes ``ptr[b]:ptr[b+1]``) and the extra ``node_fields``.
        Graph b's edges come in the order of :func:`fully_connected_edge_index`,
        offset by ``ptr[b]``.
    """
    if not (len(keypoints) == len(scores) == len(slot_index)):
        raise ValueError(f'keypoints, scores and slot_index need one entry per instance, '
                         f'got {len(keypoints)}, {len(scores)}, {len(slot_index)}')
    if len(keypoints) == 0:
        raise ValueError('build_keypoint_graphs needs at least one instance')
    for name, values in node_fields.items():
        if len(values) != len(keypoints):
            raise ValueError(f'node field {name!r} has {len(values)} entries for '
                             f'{len(keypoints)} instances')
    data_list = []
    for b, (kpts, sc, slot) in enumerate(zip(keypoints, scores, slot_index)):
        pos = _as_tensor(kpts, torch.float32).reshape(-1, 2)
        n = pos.shape[0]
        sc = _as_tensor(sc, torch.float32).reshape(-1)
        slot = _as_tensor(slot, torch.long).reshape(-1)
        if sc.numel() != n or slot.numel() != n:
            raise ValueError(f'instance {b}: {n} keypoints but {sc.numel()} scores and '
                             f'{slot.numel()} slot indices')
        extra = {}
        for name, values in node_fields.items():
            v = values[b]
            v = v.detach().cpu() if isinstance(v, torch.Tensor) else torch.as_tensor(
                np.asarray(v))
            if v.shape[0] != n:
                raise ValueError(f'instance {b}: node field {name!r} has {v.shape[0]} '
                                 f'rows for {n} keypoints')
            extra[name] = v
        data_list.append(Data(pos=pos, score=sc, slot=slot,
                              edge_index=fully_connected_edge_index(n),
                              num_keypoints=torch.tensor([n]), num_nodes=n, **extra))
    batch = Batch.from_data_list(data_list)
    return batch.to(device) if device is not None else batch


def edge_visibility_labels(node_visible: torch.Tensor, edge_index: torch.Tensor
                           ) -> torch.Tensor:
    """Eq. 5's E^l: ``(E,)`` long, 1 iff both endpoints of the edge are visible.

    Args:
        node_visible (Tensor): ``(num_nodes,)`` bool (or 0/1) labelled visibility.
        edge_index (Tensor): ``(2, E)``.
    """
    vis = node_visible.bool()
    return (vis[edge_index[0]] & vis[edge_index[1]]).long()


def node_visibility_from_edges(edge_prob_visible: torch.Tensor,
                               edge_index: torch.Tensor,
                               num_nodes: int,
                               soft: bool = False,
                               threshold: float = 0.5,
                               direction: str = 'outgoing') -> torch.Tensor:
    """Node visibility read off the edge predictions (§3.1, as the public code does).

    An edge is "visible" only if both endpoints are, so a node is visible iff any
    of its edges is predicted visible. The soft score is the max over the node's
    edges of P(visible): the score to rank nodes by for an occluded-vs-visible ROC.

    Args:
        edge_prob_visible (Tensor): ``(E,)`` P(edge class 1 = both visible).
        edge_index (Tensor): ``(2, E)`` (sender, receiver).
        num_nodes (int): nodes in the batch (isolated nodes score 0 = occluded).
        soft (bool): return the ``(num_nodes,)`` float score instead of the bool.
        threshold (float): P(visible) above which an edge counts as visible; 0.5 is
            the argmax of the 2-way softmax.
        direction (str): which edges of a node count: ``'outgoing'`` (the node is the
            sender; the public code's rule), ``'incoming'`` or ``'both'`` (any
            incident edge).

    Returns:
        Tensor: ``(num_nodes,)`` bool (``soft=False``) or float in [0, 1].
    """
    if direction == 'outgoing':
        index, prob = edge_index[0], edge_prob_visible
    elif direction == 'incoming':
        index, prob = edge_index[1], edge_prob_visible
    elif direction == 'both':
        index = torch.cat([edge_index[0], edge_index[1]])
        prob = torch.cat([edge_prob_visible, edge_prob_visible])
    else:
        raise ValueError(f"direction must be 'outgoing', 'incoming' or 'both', got "
                         f'{direction!r}')
    # Probabilities are >= 0, so scatter's 0 fill for edgeless nodes is a valid max.
    score = scatter(prob, index, dim=0, dim_size=num_nodes, reduce='max')
    return score if soft else score > threshold


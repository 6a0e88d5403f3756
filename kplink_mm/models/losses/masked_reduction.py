"""Masking, per-point weights and reduction shared by the multi-view point losses."""
from typing import Optional

import torch
from torch import nn

REDUCTIONS = ('mean', 'sum', 'none')


def check_reduction(reduction: str) -> str:
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
    return reduction


def masked_reduce(loss: torch.Tensor, reduction: str, loss_weight: float,
                  mask: Optional[torch.Tensor] = None,
                  weight: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``loss_weight`` times the weighted ``'mean'`` (``sum(w * l) / sum(w)`` over the
    kept points), ``'sum'`` or ``'none'`` (per point, masked points 0) of ``loss``."""
    w = torch.ones_like(loss)
    if weight is not None:
        w = w * torch.as_tensor(weight, dtype=loss.dtype, device=loss.device)
    if mask is not None:
        w = w * torch.as_tensor(mask, device=loss.device).to(loss.dtype)
    # where() rather than multiply: a masked point's loss may be non-finite
    # (e.g. degenerate cameras) and 0 * inf would poison the sum.
    loss = torch.where(w > 0, loss * w, torch.zeros_like(loss))
    if reduction == 'none':
        return loss_weight * loss
    if reduction == 'sum':
        return loss_weight * loss.sum()
    return loss_weight * loss.sum() / w.sum().clamp(min=torch.finfo(loss.dtype).eps)


def empty_loss(x: torch.Tensor, reduction: str) -> torch.Tensor:
    """The loss of no points: zeros (``'none'``) or a 0 still attached to ``x``."""
    return x.new_zeros(x.shape[:-1]) if reduction == 'none' else x.sum() * 0.0


class MaskedPointLoss(nn.Module):
    """Base of the per-point geometric losses: ``loss_weight``, ``reduction`` and
    ``normalize`` (the geometry's dimensionless units vs pixels)."""

    def __init__(self, loss_weight: float = 1.0, reduction: str = 'mean',
                 normalize: bool = True):
        super().__init__()
        self.reduction = check_reduction(reduction)
        self.loss_weight = loss_weight
        self.normalize = normalize

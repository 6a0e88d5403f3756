"""Epipolar point-line loss: the one-view companion of the trifocal loss.

Occlusion-Net's Eq. 9 needs an occluded keypoint to be visible in two other
calibrated views. On kplink-synth's 3-view split that holds for 43 % of the
occluded keypoints, while 90 % are visible in at least one other view; for those,
the view-1 point must still lie on the epipolar line of its view-2 image. The
geometry is :func:`kplink_mm.geometry.epipolar.epipolar_distance`.
"""
from typing import Optional, Sequence

import torch

from mmpose.registry import MODELS

from .masked_reduction import MaskedPointLoss, check_reduction, empty_loss, masked_reduce

__all__ = ['EpipolarLoss']


@MODELS.register_module()
class EpipolarLoss(MaskedPointLoss):
    """Per-point distance to the epipolar line, masked and reduced.

    Args:
        loss_weight (float): multiplies the reduced loss.
        reduction (str): ``'mean'`` (over the kept points), ``'sum'`` or ``'none'``.
        normalize (bool): measure in pixels / focal length (default, the trifocal
            loss's units) instead of pixels.
    """

    def forward(self, x1_pred: torch.Tensor, x2, P1, P2,
                mask: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None,
                reduction_override: Optional[str] = None,
                transforms: Optional[Sequence] = None) -> torch.Tensor:
        """Loss of predicted view-1 points ``x1_pred (M, 2)`` given their pixel
        positions ``x2 (M, 2)`` in another view where they are visible and the
        pixel cameras ``P1, P2`` (``(M, 3, 4)`` or ``(3, 4)``)."""
        from ...geometry.epipolar import epipolar_distance
        reduction = check_reduction(reduction_override or self.reduction)
        if x1_pred.numel() == 0:
            return empty_loss(x1_pred, reduction)
        loss = epipolar_distance(x1_pred, x2, P1, P2, normalize=self.normalize,
                                 transforms=transforms)
        return masked_reduce(loss, reduction, self.loss_weight, mask, weight)

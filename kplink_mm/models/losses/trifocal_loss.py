"""Occlusion-Net's trifocal tensor loss (Eq. 9) as an mmpose loss module.

A keypoint occluded in view 1 but visible in views 2 and 3 is supervised without
any label in view 1: the point-point-point incidence
``[x']_x (sum_i x^i T_i) [x'']_x = 0`` of the three views' trifocal tensor must hold
for the predicted ``x``. The geometry (tensor, normalisation, residual) lives in
:func:`kplink_mm.geometry.trifocal.trifocal_loss`; this module adds the weight,
masking and reduction.
"""
from typing import Optional, Sequence

import torch

from mmpose.registry import MODELS

from .masked_reduction import MaskedPointLoss, check_reduction, empty_loss, masked_reduce

__all__ = ['TrifocalLoss']


@MODELS.register_module()
class TrifocalLoss(MaskedPointLoss):
    """Per-point trifocal incidence loss, masked and reduced.

    Args:
        loss_weight (float): multiplies the reduced loss.
        reduction (str): ``'mean'`` (over the points kept by ``mask``/``weight``:
            ``sum(w * l) / sum(w)``), ``'sum'`` or ``'none'`` (per point, masked
            points set to 0).
        normalize (bool): use the geometry function's normalised residual
            (dimensionless, ~ pixel error / focal length; default) instead of the
            raw algebraic one, whose scale depends on the cameras' units.
    """

    def forward(self, x1_pred: torch.Tensor, x2, x3, P1, P2, P3,
                mask: Optional[torch.Tensor] = None,
                weight: Optional[torch.Tensor] = None,
                reduction_override: Optional[str] = None,
                image_size=None,
                transforms: Optional[Sequence] = None) -> torch.Tensor:
        """Loss of predicted view-1 points.

        Args:
            x1_pred (Tensor): ``(M, 2)`` predicted pixel positions in view 1 (the
                view where the keypoints are occluded); gradients flow into it.
            x2, x3: ``(M, 2)`` pixel positions in two other views where the
                keypoints are visible.
            P1, P2, P3: ``(M, 3, 4)`` or ``(3, 4)`` pixel cameras ``K [R | t]``.
            mask (Tensor, optional): ``(M,)`` bool, points to keep.
            weight (Tensor, optional): ``(M,)`` per-point weights.
            reduction_override (str, optional): overrides ``reduction``.
            image_size, transforms: passed to the geometry function (alternative
                normalisations; see :func:`kplink_mm.geometry.trifocal.trifocal_loss`).

        Returns:
            Tensor: scalar (``'mean'``/``'sum'``) or ``(M,)`` (``'none'``).
        """
        from ...geometry.trifocal import trifocal_loss
        reduction = check_reduction(reduction_override or self.reduction)
        if x1_pred.numel() == 0:
            return empty_loss(x1_pred, reduction)
        loss = trifocal_loss(x1_pred, x2, x3, P1, P2, P3, normalize=self.normalize,
                             reduction='none', image_size=image_size,
                             transforms=transforms)
        return masked_reduce(loss, reduction, self.loss_weight, mask, weight)

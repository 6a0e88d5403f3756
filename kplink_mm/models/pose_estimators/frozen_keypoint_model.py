"""Training extra heads on top of a fixed top-down keypoint model."""
from typing import List

import torch


class FrozenKeypointModelMixin:
    """For a ``TopdownPoseEstimator`` subclass with ``freeze_keypoint_model``: the
    keypoint model (backbone, neck, head) gets no gradients and keeps its BatchNorm
    statistics, whatever ``train()`` is called with (stage-wise training)."""

    freeze_keypoint_model: bool = False

    def _keypoint_modules(self) -> List[torch.nn.Module]:
        return [m for m in (self.backbone, getattr(self, 'neck', None), self.head)
                if m is not None]

    def freeze_keypoint_modules(self) -> None:
        self.freeze_keypoint_model = True
        for module in self._keypoint_modules():
            for p in module.parameters():
                p.requires_grad_(False)

    def train(self, mode: bool = True):
        super().train(mode)
        if self.freeze_keypoint_model:
            # BatchNorm statistics of the frozen keypoint model must not drift.
            for module in self._keypoint_modules():
                module.eval()
        return self

"""Data transforms of kplink_mm that mmpose's pipeline does not have."""
import numpy as np
from mmcv.transforms import BaseTransform
from mmpose.registry import TRANSFORMS


@TRANSFORMS.register_module()
class UnlabelledKeypointsAsNegatives(BaseTransform):
    """Train the heatmap channels of a target's unlabelled keypoints towards zero.

    Occlusion-Net's keypoint model is trained on visible keypoints only, and "the
    key points that are not labeled are assumed to be invisible" (paper §1). mmpose's
    heatmap codecs give a keypoint that is not visible a zero heatmap AND a zero
    weight, so the model is never told anything about it and its confidence there
    carries no occlusion signal. This transform, placed after `GenerateTarget`, sets
    the weight of those zero heatmaps to `weight` for the slots of the instance's own
    category (`category_slice`; other categories' slots of the union space stay
    ignored): the model learns not to fire where no visible keypoint is.

    Which slots are unlabelled is read from `keypoints_visible` after the geometric
    transforms, so it follows `RandomFlip`'s left/right swap. A visible keypoint that
    fell outside the heatmap keeps the codec's zero weight (its location is known,
    only out of view).

    Required keys: keypoints_visible, keypoint_weights, category_slice (heatmaps,
    when present, are checked to be zero where the weight is raised).
    Modified keys: keypoint_weights.

    Args:
        weight (float): the loss weight of an unlabelled keypoint's zero heatmap.
            Defaults to 1.0 (the same as a visible keypoint's).
    """

    def __init__(self, weight: float = 1.0):
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f'UnlabelledKeypointsAsNegatives: weight must be finite '
                             f'and >= 0, got {weight!r}')
        self.weight = float(weight)

    def transform(self, results: dict) -> dict:
        where = results.get('img_path', '<unknown image>')
        for key in ('keypoints_visible', 'keypoint_weights', 'category_slice'):
            if key not in results:
                raise KeyError(f'UnlabelledKeypointsAsNegatives ({where}): the sample '
                               f'has no {key!r}; put the transform after GenerateTarget '
                               'on a dataset that gives category_slice')
        visible = np.asarray(results['keypoints_visible'], dtype=np.float32)
        if visible.ndim == 3:  # (N, K, 2): visibility and its weight
            visible = visible[..., 0]
        weights = np.array(results['keypoint_weights'], dtype=np.float32, copy=True)
        if weights.shape != visible.shape:
            raise ValueError(f'UnlabelledKeypointsAsNegatives ({where}): '
                             f'keypoint_weights has shape {weights.shape} but '
                             f'keypoints_visible has {visible.shape}')
        start, count = (int(v) for v in results['category_slice'])
        if start < 0 or count <= 0 or start + count > weights.shape[-1]:
            raise ValueError(f'UnlabelledKeypointsAsNegatives ({where}): '
                             f'category_slice={(start, count)} does not fit '
                             f'{weights.shape[-1]} keypoint slots')
        sl = slice(start, start + count)
        unlabelled = visible[:, sl] < 0.5
        heatmaps = results.get('heatmaps')
        if heatmaps is not None:
            # The zero target is what makes this a negative; a codec that puts a
            # peak on a non-visible keypoint would turn it into a positive.
            channels = np.asarray(heatmaps)[sl]
            peaks = channels.reshape(count, -1).max(axis=1) > 0
            if np.any(unlabelled.any(axis=0) & peaks):
                raise ValueError(
                    f'UnlabelledKeypointsAsNegatives ({where}): a keypoint marked not '
                    'visible has a non-zero heatmap target; the dataset must give '
                    "keypoint_visibility='visible'")
        weights[:, sl][unlabelled] = self.weight
        results['keypoint_weights'] = weights
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}(weight={self.weight})'

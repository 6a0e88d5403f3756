"""Name a target's keypoint peaks consistently with one rigid viewpoint.

CKLM names each peak from its own naming logits; the one-to-one assignment only
stops two peaks from taking the same name. Nothing makes the names of one target
agree with each other: a car can get its left front wheel from one viewpoint and
its right back trunk from the mirror one. Here every viewpoint of a grid on the
viewing sphere proposes where the category's mean-shape keypoints fall (weak
perspective: orthographic projection, then a scale and shift fitted to the peaks),
and the peaks are matched to keypoints on

    cost(peak i, keypoint k) = -log p(k | i) - log score_i
                               + ||peak_i - proj_k||^2 / (2 (sigma * box)^2)
                               + facing_weight * max(0, -cos(normal_k, to camera))

(the joint negative log-likelihood of the names, the peak being real, its
position under the viewpoint and the keypoint facing the camera). The viewpoint
with the cheapest matching wins. Design and measurements: docs/cklm.md and
docs/benchmarks.md ("Viewpoint-consistent naming").

Why the grid keeps the camera above the ground plane (elevation 10-50 degrees by
default, no 0): under weak perspective, a mirror-symmetric object seen from above
with its left/right names swapped projects exactly like the object seen from
*below*, at the negated elevation (the depth reversal of the image is a proper
rotation that carries left onto right). Upright viewpoints only, as in kplink-synth
(5-45 degrees) and most photographs, rule that pose out; the nearer a view is to
horizontal, the less the geometry can tell the two apart and the more the naming
logits decide. Categories whose keypoints are themselves symmetric under a half
turn (the dining table's) can only be told front from back by the logits.
"""
from typing import Optional, Sequence, Tuple

import numpy as np

from kplink_mm.geometry.viewpoint import (facing_camera, fit_scale_translation,
                                          orthographic_project, viewing_sphere_rotations)
from .lis import solve_assignment

__all__ = ['ViewpointNaming']


class ViewpointNaming:
    """Viewpoint-consistent one-to-one naming of keypoint peaks.

    Args:
        sigma (float): position tolerance as a fraction of the box's larger side.
        facing_weight (float): cost (nats) per unit of a keypoint facing away from the
            camera, for a peak named as it (back-facing keypoints are mostly hidden).
        azimuth_step (float): degrees between the azimuths of the viewpoint grid.
        elevations (Sequence[float]): elevations (degrees) of the grid.
        iterations (int): rounds of (match, refit scale and shift) per viewpoint.
        eps (float): floor of probabilities and scores inside the logs.

    The defaults were chosen on kplink-synth *train* predictions (docs/cklm.md).
    """

    def __init__(self, sigma: float = 0.15, facing_weight: float = 0.5,
                 azimuth_step: float = 10.0,
                 elevations: Sequence[float] = (10, 20, 30, 40, 50),
                 iterations: int = 2, eps: float = 1e-6):
        if sigma <= 0:
            raise ValueError(f'sigma must be > 0, got {sigma}')
        if facing_weight < 0:
            raise ValueError(f'facing_weight must be >= 0, got {facing_weight}')
        if not eps > 0:
            raise ValueError(f'eps must be > 0, got {eps}')
        if iterations < 0:
            raise ValueError(f'iterations must be >= 0, got {iterations}')
        self.sigma = float(sigma)
        self.facing_weight = float(facing_weight)
        self.iterations = int(iterations)
        self.eps = float(eps)
        self.rotations = viewing_sphere_rotations(azimuth_step, elevations)

    def __call__(self, peaks: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                 keypoints3d: np.ndarray, normals: Optional[np.ndarray], box_size: float
                 ) -> Tuple[np.ndarray, np.ndarray, int]:
        """Match the M peaks of one target with the N keypoints of its category.

        Args:
            peaks: (M, 2) peak positions (any pixel frame; ``box_size`` in the same).
            scores: (M,) peak confidences (> 0).
            probs: (M, N) p(keypoint | peak).
            keypoints3d: (N, 3) the category's mean-shape keypoints, object frame
                (z up).
            normals: (N, 3) their outward directions, or None (no facing term).
            box_size: the target box's larger side.

        Returns:
            ``(rows, cols, viewpoint)``: matched peak and keypoint indices (sorted by
            peak) and the index of the winning viewpoint in ``self.rotations``
            (-1 when there are no peaks).
        """
        peaks = np.asarray(peaks, np.float64).reshape(-1, 2)
        scores = np.asarray(scores, np.float64).reshape(-1)
        probs = np.asarray(probs, np.float64)
        n = len(keypoints3d)
        if probs.shape != (len(peaks), n) or len(scores) != len(peaks):
            raise ValueError(f'ViewpointNaming: {len(peaks)} peaks, {len(scores)} scores '
                             f'and probs of shape {probs.shape} for {n} keypoints')
        if len(peaks) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), -1
        if not box_size > 0:
            raise ValueError(f'ViewpointNaming: box_size must be > 0, got {box_size}')
        appearance = -np.log(probs + self.eps) - np.log(scores[:, None] + self.eps)
        two_sigma2 = 2.0 * (self.sigma * float(box_size)) ** 2
        projected = orthographic_project(keypoints3d, self.rotations)      # (H, N, 2)
        if normals is not None:
            facing = facing_camera(normals, self.rotations)                  # (H, N)
        else:
            facing = np.ones(projected.shape[:2])
        facing_cost = self.facing_weight * np.clip(-facing, 0.0, None)
        # The first scale and shift put the template's camera-facing keypoints on the
        # peaks' score-weighted mean and spread: no names are needed to start.
        w = scores / scores.sum()
        peak_mean = w @ peaks
        peak_spread = np.sqrt(w @ ((peaks - peak_mean) ** 2).sum(1))
        best = (np.inf, None, None, -1)
        for h in range(len(self.rotations)):
            uv = projected[h]
            front = facing[h] > 0
            if front.sum() < 2:
                front = np.ones(n, bool)
            uv_mean = uv[front].mean(0)
            uv_spread = np.sqrt(((uv[front] - uv_mean) ** 2).sum(1).mean())
            s = peak_spread / max(uv_spread, 1e-9)
            t = peak_mean - s * uv_mean
            for it in range(self.iterations + 1):
                d2 = ((peaks[:, None, :] - (s * uv + t)[None]) ** 2).sum(-1)
                cost = appearance + d2 / two_sigma2 + facing_cost[h][None]
                rows, cols = solve_assignment(cost)
                if it == self.iterations:
                    break
                s_fit, t_fit = fit_scale_translation(uv[cols], peaks[rows], scores[rows])
                if s_fit > 0:  # a degenerate or mirrored fit keeps the previous one
                    s, t = s_fit, t_fit
            total = float(cost[rows, cols].sum())
            if total < best[0]:
                best = (total, rows, cols, h)
        return best[1], best[2], best[3]

    def name_peaks(self, peaks: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                   spec, box_size: float) -> Tuple[np.ndarray, np.ndarray]:
        """``(rows, cols)``: the peaks matched with the keypoints of category ``spec``
        (a kplink-synth ``CategorySpec``), against its mean shape."""
        mean_shape = spec.mean_model()   # cached per category
        rows, cols, _ = self(peaks, scores, probs, mean_shape.keypoints,
                             mean_shape.keypoint_normals, box_size)
        return rows, cols

    def name_features(self, peaks: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                      spec, box_size: float, features: np.ndarray,
                      return_probs: bool = False):
        """The peaks' canonical features after naming them for category ``spec``: a
        matched peak carries its keypoint's canonical point, an unmatched one keeps its
        row of ``features``. (M, D) float32; what
        ``CKLMHead(identity_feature='viewpoint')`` and the offline re-naming use.
        With ``return_probs`` also the confidence in each name, (M, n): the head's
        own ``probs`` (the rigid-shape fit gives no probability of its own)."""
        out = np.array(features, dtype=np.float32, copy=True)
        rows, cols = self.name_peaks(peaks, scores, probs, spec, box_size)
        out[rows] = spec.canonical_keypoints()[cols]
        return (out, np.asarray(probs, np.float32)) if return_probs else out

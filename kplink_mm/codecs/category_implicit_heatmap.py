"""CKLM's target: all keypoints of a target in ONE heatmap, plus offsets and identities.

KLPNet (§3.2.1, Eq. 1) puts every keypoint of one target into a single
category-implicit confidence map H with offset maps (O_x, O_y); each stage of the
multi-stage head is supervised with its own Gaussian kernel size (7, 5, 3: coarse to
fine). Because the map says nothing about *which* keypoint a peak is, a canonical
feature (the keypoint's canonical 3D position, as in StarMap) is regressed at every
keypoint location, so peaks can be identified afterwards (see
`kplink_mm.evaluation.functional.identify_keypoints`).

Conventions follow mmpose's MSRAHeatmap: heatmap pixel (i, j) sits at input
coordinate (j * stride_x, i * stride_y).
"""
from typing import Optional, Sequence, Tuple

import numpy as np
from mmpose.codecs.base import BaseKeypointCodec
from mmpose.registry import KEYPOINT_CODECS


def kernel_sigma(kernel_size: int) -> float:
    """Gaussian sigma for a k x k kernel: the kernel spans +-2 sigma."""
    return (kernel_size - 1) / 4.0


@KEYPOINT_CODECS.register_module()
class CategoryImplicitHeatmap(BaseKeypointCodec):
    """Encode a target's keypoints into one confidence map per stage + offsets + identities.

    The encoded ``heatmaps`` stack, along the channel axis (see :meth:`channel_slices`):
    ``S`` confidence maps (one per stage kernel), ``O_x, O_y``, the offset mask, ``D``
    canonical-feature maps, their mask, and the slot index of the keypoint each pixel
    belongs to (-1 elsewhere; a head that classifies identities trains on it).

    Args:
        input_size (tuple): (w, h) of the model input.
        heatmap_size (tuple): (w, h) of the maps.
        kernel_sizes (Sequence[int]): Gaussian kernel size per stage, coarse to fine.
        offset_radius (int): offsets are supervised within this many pixels
            (Chebyshev) of each keypoint.
        identity_radius (int, optional): canonical features / keypoint indices are
            supervised within this many pixels (default: ``offset_radius``); a wider
            region gives the identity branch more pixels to learn from.
        max_peaks (int): at most this many peaks are decoded per target.
        score_thr (float): peaks below this confidence are dropped (StarMap: 0.05).
        nms_kernel (int): size of the max-pool window that defines a peak.
        canonical_dim (int): length of the identity feature (3: canonical 3D point).
    """

    auxiliary_encode_keys = {'keypoints_canonical'}
    # Everything travels as one stacked 'heatmaps' field so mmpose's
    # GenerateTarget/PackPoseInputs pipeline carries it unchanged.
    label_mapping_table = dict(keypoint_weights='keypoint_weights')
    field_mapping_table = dict(heatmaps='heatmaps')

    def __init__(self,
                 input_size: Tuple[int, int],
                 heatmap_size: Tuple[int, int],
                 kernel_sizes: Sequence[int] = (7, 5, 3),
                 offset_radius: int = 1,
                 identity_radius: Optional[int] = None,
                 max_peaks: int = 24,
                 score_thr: float = 0.05,
                 nms_kernel: int = 3,
                 canonical_dim: int = 3) -> None:
        super().__init__()
        if not kernel_sizes or any(k < 1 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f'kernel_sizes must be odd positive integers, got {kernel_sizes}')
        self.input_size = tuple(input_size)
        self.heatmap_size = tuple(heatmap_size)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        self.offset_radius = int(offset_radius)
        self.identity_radius = int(offset_radius if identity_radius is None
                                   else identity_radius)
        self.max_peaks = int(max_peaks)
        self.score_thr = float(score_thr)
        self.nms_kernel = int(nms_kernel)
        self.canonical_dim = int(canonical_dim)
        self.scale_factor = (np.array(input_size) / heatmap_size).astype(np.float32)

    @property
    def num_stages(self) -> int:
        return len(self.kernel_sizes)

    def channel_slices(self) -> dict:
        """Where each target lives in the stacked ``heatmaps`` array."""
        s, d = self.num_stages, self.canonical_dim
        return dict(
            confidence=slice(0, s),
            offset=slice(s, s + 2),
            offset_mask=slice(s + 2, s + 3),
            canonical=slice(s + 3, s + 3 + d),
            canonical_mask=slice(s + 3 + d, s + 4 + d),
            keypoint_index=slice(s + 4 + d, s + 5 + d))

    @property
    def num_channels(self) -> int:
        return self.num_stages + 5 + self.canonical_dim

    def encode(self,
               keypoints: np.ndarray,
               keypoints_visible: Optional[np.ndarray] = None,
               keypoints_canonical: Optional[np.ndarray] = None) -> dict:
        """Encode keypoints (N, K, 2) in input space into the stacked target maps.

        Keypoints with zero visibility, and keypoints outside the heatmap, are
        dropped (weight 0), never clipped to the border.
        """
        keypoints = np.asarray(keypoints, dtype=np.float32)
        if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
            raise ValueError(f'keypoints must be (N, K, 2), got {keypoints.shape}')
        N, K, _ = keypoints.shape
        if keypoints_visible is None:
            keypoints_visible = np.ones((N, K), dtype=np.float32)
        if keypoints_canonical is None:
            keypoints_canonical = np.zeros((N, K, self.canonical_dim), dtype=np.float32)
        keypoints_canonical = np.asarray(keypoints_canonical, dtype=np.float32)
        if keypoints_canonical.shape != (N, K, self.canonical_dim):
            raise ValueError(
                f'keypoints_canonical must be {(N, K, self.canonical_dim)}, got '
                f'{keypoints_canonical.shape}')

        W, H = self.heatmap_size
        kp_hm = keypoints / self.scale_factor
        inside = ((kp_hm[..., 0] >= 0) & (kp_hm[..., 0] <= W - 1) &
                  (kp_hm[..., 1] >= 0) & (kp_hm[..., 1] <= H - 1))
        weights = (np.asarray(keypoints_visible, np.float32) > 0) & inside
        sel = kp_hm[weights]                       # (M, 2)
        feats = keypoints_canonical[weights]       # (M, D)
        slots = np.nonzero(weights)[1]             # (M,) keypoint slot of each

        maps = np.zeros((self.num_channels, H, W), dtype=np.float32)
        sl = self.channel_slices()
        maps[sl['keypoint_index']] = -1
        if len(sel):
            ys, xs = np.mgrid[0:H, 0:W].astype(np.float32)
            dx = xs[None] - sel[:, 0, None, None]  # (M, H, W)
            dy = ys[None] - sel[:, 1, None, None]
            d2 = dx**2 + dy**2
            cheb = np.maximum(np.abs(dx), np.abs(dy))
            for s, k in enumerate(self.kernel_sizes):
                g = np.exp(-d2 / (2 * kernel_sigma(k)**2)) if k > 1 else (d2 < 0.25) * 1.0
                g = np.where(cheb <= (k - 1) / 2 + 0.5, g, 0.0)
                maps[sl['confidence']][s] = g.max(axis=0)
            # Offsets/identities: each pixel near a keypoint belongs to the nearest one.
            nearest = d2.argmin(axis=0)
            near = cheb.min(axis=0) <= self.offset_radius + 0.5
            sel_x, sel_y = sel[nearest, 0], sel[nearest, 1]
            off = maps[sl['offset']]
            off[0] = np.where(near, sel_x - xs, 0)
            off[1] = np.where(near, sel_y - ys, 0)
            maps[sl['offset_mask']][0] = near
            named = cheb.min(axis=0) <= self.identity_radius + 0.5
            maps[sl['canonical']] = np.where(named[None], feats[nearest].transpose(2, 0, 1), 0)
            maps[sl['canonical_mask']][0] = named
            maps[sl['keypoint_index']][0] = np.where(named, slots[nearest], -1)
        return dict(heatmaps=maps, keypoint_weights=weights.astype(np.float32))

    def decode(self, encoded: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Peaks of one target's maps.

        Args:
            encoded (np.ndarray): (C, H, W) with the layout of :meth:`channel_slices`
                where the confidence channels hold probabilities (after sigmoid); the
                last confidence channel (finest stage) is decoded.

        Returns:
            tuple: peaks (1, P, 2) in input space with sub-pixel offsets, scores
            (1, P) and canonical features (1, P, D), sorted by score; P <=
            ``max_peaks`` (padding has score 0).
        """
        sl = self.channel_slices()
        return self.decode_maps(encoded[sl['confidence']][-1], encoded[sl['offset']],
                                encoded[sl['canonical']])

    def decode_maps(self, conf: np.ndarray, offsets: np.ndarray, feats: np.ndarray,
                    cells: Optional[Tuple[np.ndarray, np.ndarray]] = None
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:meth:`decode` on separate maps: confidence (H, W) as probabilities,
        offsets (2, H, W) and canonical features (D, H, W) - what a head predicts.
        ``cells``: :meth:`peak_cells` of ``conf`` when the caller already has them."""
        ys, xs = self.peak_cells(conf) if cells is None else cells
        P = self.max_peaks
        peaks = np.zeros((1, P, 2), dtype=np.float32)
        scores = np.zeros((1, P), dtype=np.float32)
        out_feats = np.zeros((1, P, self.canonical_dim), dtype=np.float32)
        n = len(ys)
        loc = np.stack([xs + offsets[0, ys, xs], ys + offsets[1, ys, xs]], axis=-1)
        peaks[0, :n] = loc * self.scale_factor
        scores[0, :n] = conf[ys, xs]
        out_feats[0, :n] = feats[:, ys, xs].T
        return peaks, scores, out_feats

    def peak_cells(self, conf: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """Heatmap cells (ys, xs) of the decoded peaks, in the order :meth:`decode_maps`
        returns them (score, descending; at most ``max_peaks``), so a head can read
        other per-pixel outputs at the same peaks."""
        r = self.nms_kernel // 2
        padded = np.pad(conf, r, mode='constant', constant_values=-np.inf)
        windows = np.lib.stride_tricks.sliding_window_view(padded, (2 * r + 1, 2 * r + 1))
        is_peak = (conf >= windows.max(axis=(-1, -2))) & (conf > self.score_thr)
        ys, xs = np.nonzero(is_peak)
        order = np.argsort(-conf[ys, xs], kind='stable')
        # Plateaus (equal neighbours) pass the max-filter several times: keep the
        # first of every group closer than the NMS window.
        keep = []
        for i in order:
            if all(max(abs(ys[i] - ys[j]), abs(xs[i] - xs[j])) > r for j in keep):
                keep.append(i)
                if len(keep) == self.max_peaks:
                    break
        keep = np.asarray(keep, dtype=np.int64)
        return ys[keep], xs[keep]

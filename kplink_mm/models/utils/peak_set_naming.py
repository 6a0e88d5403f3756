"""Learned naming of one target's peaks as a set (``CKLMHead(identity_feature='set')``).

A classification CKLM head gives every peak p(keypoint | peak) from the pixels around
it. Those logits see local appearance, so a target's names need not agree with each
other (a left wheel and a right wheel both named "left front wheel"). The one-to-one
assignment only forbids duplicates; the viewpoint naming asks the names to agree with
one rigid mean shape seen from one of 180 viewpoints. ``PeakSetNamer`` instead
*learns* what a consistent set of names looks like: a small transformer reads all of
a target's peaks at once -- where each lies relative to the others (in units of the
box), its score and its logits -- and re-scores p(keypoint | peak) with a "no
keypoint" option. It is trained on the head's own peaks from a ``tools/test.py
--dump`` of the training split (``tools/train_peak_naming.py``), labels by matching
peaks to the labelled keypoints within a radius, so it learns what the frozen head
gets wrong, not an idealised input.

With ``viewpoint_prior`` the namer also reads, per peak, the name the
viewpoint-consistent naming (:class:`ViewpointNaming`) gives it: the rigid-shape prior
for free, which a few hundred targets per category are too few to learn.

With ``context_inputs`` the namer also reads where the peaks lie in the target's box
and where the box lies in the image. The centroid of the peaks moves with the
keypoints that are missing, and a truncated target's box touches the image border
on the side where its keypoints are missing (kplink-synth boxes are the visible
pixels' box), which tells which names are free to take.

Inputs are invariant to the crop's scale and shift (positions are relative to the
score-weighted centroid or the box, divided by the box size), so online (crop
pixels) and offline (image pixels of a dump) namings agree.
"""
from typing import Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp

from ...datasets.synth.categories import category_names, get_category
from .viewpoint_naming import ViewpointNaming

__all__ = ['PeakSetNamer', 'PeakSetNaming', 'peak_set_inputs', 'peak_set_labels',
           'CONTEXT_DIMS', 'mirror_permutation', 'mirror_rect']

_EPS = 1e-6
# peak in box (2), box shape (2), box margins to the image border (4), peak margins (4)
CONTEXT_DIMS = 12


def _context_features(peaks: np.ndarray, box, image_rect, box_size: float) -> np.ndarray:
    """(M, CONTEXT_DIMS): each peak relative to the box centre; the box's width and
    height; the box's and the peak's distances to the four image borders (left, right,
    top, bottom), all in box units, distances clipped to [0, 1] (far is far)."""
    box = np.asarray(box, np.float64).reshape(4)
    rect = np.asarray(image_rect, np.float64).reshape(4)
    if not (box[2] >= box[0] and box[3] >= box[1]):
        raise ValueError(f'box must be x1, y1, x2, y2 with x2 >= x1, y2 >= y1, got '
                         f'{box.tolist()}')
    if not (rect[2] > rect[0] and rect[3] > rect[1]):
        raise ValueError(f'image_rect must be x1, y1, x2, y2 of a non-empty image, got '
                         f'{rect.tolist()}')
    m = len(peaks)
    out = np.zeros((m, CONTEXT_DIMS), np.float32)
    out[:, 0:2] = (peaks - (box[:2] + box[2:]) / 2) / box_size
    out[:, 2:4] = (box[2:] - box[:2]) / box_size

    def margins(x1, y1, x2, y2):
        return np.clip(np.stack([x1 - rect[0], rect[2] - x2, y1 - rect[1], rect[3] - y2],
                                -1) / box_size, 0.0, 1.0)

    out[:, 4:8] = margins(*box)
    out[:, 8:12] = margins(peaks[:, 0], peaks[:, 1], peaks[:, 0], peaks[:, 1])
    return out


def peak_set_inputs(peaks: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                    box_size: float, max_keypoints: int,
                    prior_names: Optional[np.ndarray] = None, box=None,
                    image_rect=None) -> np.ndarray:
    """Per-peak input features (M, 3 + 2K [+ K] [+ CONTEXT_DIMS]): relative x, y
    (score-weighted centroid, box units), score, p(keypoint | peak) and its log, padded
    to ``max_keypoints``; with ``prior_names`` ((M, ) keypoint index or -1) also their
    one-hot; with ``box`` and ``image_rect`` (x1, y1, x2, y2 of the target's box and of
    the whole image, in the peaks' pixels) also the context features."""
    peaks = np.asarray(peaks, np.float64).reshape(-1, 2)
    scores = np.asarray(scores, np.float64).reshape(-1)
    probs = np.asarray(probs, np.float64)
    m, n = probs.shape
    if n > max_keypoints:
        raise ValueError(f'probs have {n} keypoints, more than max_keypoints={max_keypoints}')
    if not box_size > 0:
        raise ValueError(f'box_size must be > 0, got {box_size!r}')
    w = np.clip(scores, _EPS, None)
    center = (w[:, None] * peaks).sum(0) / w.sum() if m else np.zeros(2)
    if (box is None) != (image_rect is None):
        raise ValueError('the context features need both box and image_rect')
    extra = max_keypoints if prior_names is not None else 0
    context = CONTEXT_DIMS if box is not None else 0
    feats = np.zeros((m, 3 + 2 * max_keypoints + extra + context), np.float32)
    feats[:, 0:2] = (peaks - center) / box_size
    feats[:, 2] = scores
    feats[:, 3:3 + n] = probs
    # log-probabilities scaled to about [-1, 0]; padded slots read as impossible (-1)
    feats[:, 3 + max_keypoints:3 + 2 * max_keypoints] = -1.0
    feats[:, 3 + max_keypoints:3 + max_keypoints + n] = np.log(probs + _EPS) / 14.0
    if prior_names is not None:
        prior_names = np.asarray(prior_names).reshape(-1)
        named = np.nonzero(prior_names >= 0)[0]
        feats[named, 3 + 2 * max_keypoints + prior_names[named]] = 1.0
    if box is not None:
        feats[:, feats.shape[1] - context:] = _context_features(peaks, box, image_rect,
                                                                box_size)
    return feats


def mirror_permutation(spec) -> np.ndarray:
    """(n, ) the keypoint each keypoint of ``spec`` becomes in a mirror (its flip
    pair, or itself); an involution."""
    perm = np.arange(len(spec.keypoint_names))
    for i, j in spec.flip_pairs:
        perm[i], perm[j] = j, i
    return perm


def mirror_rect(rect) -> np.ndarray:
    """x1, y1, x2, y2 seen in the mirror x -> -x."""
    x1, y1, x2, y2 = np.asarray(rect, np.float64).reshape(4)
    return np.array([-x2, y1, -x1, y2])


def viewpoint_prior_names(naming: ViewpointNaming, peaks, scores, probs, spec,
                          box_size: float) -> np.ndarray:
    """(M, ) the keypoint ``naming`` gives each peak, -1 for unnamed peaks."""
    names = np.full(len(peaks), -1, np.int64)
    rows, cols = naming.name_peaks(peaks, scores, probs, spec, box_size)
    names[rows] = cols
    return names


def peak_set_labels(peaks: np.ndarray, gt_keypoints: np.ndarray, labelled: np.ndarray,
                    radius: float) -> np.ndarray:
    """Each peak's keypoint index, or -1 ("no keypoint"): a one-to-one match of peaks
    to labelled keypoints on distance, kept when within ``radius`` (pixels)."""
    peaks = np.asarray(peaks, np.float64).reshape(-1, 2)
    labels = np.full(len(peaks), -1, np.int64)
    idx = np.nonzero(np.asarray(labelled))[0]
    if len(peaks) == 0 or len(idx) == 0:
        return labels
    dist = np.linalg.norm(peaks[:, None] - np.asarray(gt_keypoints)[idx][None], axis=-1)
    rows, cols = linear_sum_assignment(dist)
    keep = dist[rows, cols] <= radius
    labels[rows[keep]] = idx[cols[keep]]
    return labels


class PeakSetNamer(nn.Module):
    """Transformer over one target's peaks -> logits over the category's keypoints plus
    a final "no keypoint" logit: (B, M, max_keypoints + 1); slots beyond the category's
    keypoint count are masked to -inf."""

    def __init__(self, num_categories: int, max_keypoints: int, embed_dims: int = 64,
                 num_layers: int = 2, num_heads: int = 4, dropout: float = 0.0,
                 prior_inputs: bool = False, context_inputs: bool = False):
        super().__init__()
        self.num_categories, self.max_keypoints = num_categories, max_keypoints
        self.prior_inputs, self.context_inputs = prior_inputs, context_inputs
        in_dims = (3 + 2 * max_keypoints + (max_keypoints if prior_inputs else 0)
                   + (CONTEXT_DIMS if context_inputs else 0))
        self.embed = nn.Sequential(nn.Linear(in_dims, embed_dims), nn.ReLU(),
                                   nn.Linear(embed_dims, embed_dims))
        self.category_embed = nn.Embedding(num_categories, embed_dims)
        layer = nn.TransformerEncoderLayer(embed_dims, num_heads, 2 * embed_dims, dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, num_layers, enable_nested_tensor=False)
        self.out = nn.Linear(embed_dims, max_keypoints + 1)

    def forward(self, inputs: torch.Tensor, category: torch.Tensor, num_keypoints: torch.Tensor,
                padding: torch.Tensor) -> torch.Tensor:
        """inputs (B, M, F), category (B, ) index, num_keypoints (B, ), padding (B, M)
        True where a row is not a peak."""
        x = self.embed(inputs) + self.category_embed(category)[:, None]
        x = self.encoder(x, src_key_padding_mask=padding)
        logits = self.out(x)
        slots = torch.arange(self.max_keypoints + 1, device=logits.device)
        invalid = (slots[None] >= num_keypoints[:, None]) & (slots[None] < self.max_keypoints)
        return logits.masked_fill(invalid[:, None], float('-inf'))


class PeakSetNaming:
    """Names a target's peaks with a trained :class:`PeakSetNamer`.

    Same contract as :class:`ViewpointNaming`: ``name_features(peaks, scores, probs,
    spec, box_size, features)`` returns the peaks' canonical features after naming, for
    the head and for the offline re-naming of dumps. A peak whose best match is "no
    keypoint" keeps its row of ``features``. A namer with context inputs
    (``needs_context``) also takes ``context=dict(box=..., image_rect=...)``.

    Args:
        checkpoint: a file written by ``tools/train_peak_naming.py`` (``{'meta':
            {...}, 'state_dict': ...}``), a list of them (an ensemble: the namers'
            probabilities are averaged; one category order), or None with ``namer``
            given.
        namer: an already built ``PeakSetNamer`` or a list of them (tests, the
            training tool).
        categories: category names in the namer's embedding order (from the
            checkpoint's meta when loading one).
        viewpoint_prior: ``ViewpointNaming`` arguments whose names the namer reads
            (a namer built with ``prior_inputs=True``; from the checkpoint's meta).
        no_keypoint_penalty: added to every peak's "no keypoint" cost (-log p) in the
            one-to-one matching, so that a peak the namer hesitates on is named rather
            than left out. The namer learns "no keypoint" for peaks off every labelled
            keypoint, while PCK only asks that each keypoint name lands on its peak; an
            unnamed true peak leaves its name to the nearest-feature fallback, which is
            mostly wrong. 0 (the default) is the namer's own posterior; choose it on
            held-out images (``tools/train_peak_naming.py --holdout-every N
            --no-keypoint-penalty 0 1 2 3``).
        mirror_test: also name the target seen in a mirror and average the two
            namings' probabilities (test-time augmentation, like mmpose's flip test;
            the namers are trained on mirrored copies, so both views are in their
            training distribution). Doubles the naming's cost.
    """

    def __init__(self, checkpoint: Union[str, Sequence[str], None] = None,
                 namer: Union[PeakSetNamer, Sequence[PeakSetNamer], None] = None,
                 categories: Optional[Sequence[str]] = None,
                 viewpoint_prior: Optional[dict] = None,
                 no_keypoint_penalty: float = 0.0, mirror_test: bool = False):
        try:
            penalty = float(no_keypoint_penalty)
        except (TypeError, ValueError):
            penalty = float('nan')
        if not np.isfinite(penalty):
            raise ValueError(f'no_keypoint_penalty must be a finite number, got '
                             f'{no_keypoint_penalty!r}')
        self.no_keypoint_penalty = penalty
        if not isinstance(mirror_test, bool):
            raise ValueError(f'mirror_test must be True or False, got {mirror_test!r}')
        self.mirror_test = mirror_test
        if (checkpoint is None) == (namer is None):
            raise ValueError('PeakSetNaming needs exactly one of checkpoint or namer')
        if checkpoint is not None:
            paths = [checkpoint] if isinstance(checkpoint, str) else list(checkpoint)
            if not paths:
                raise ValueError('checkpoint: an empty list of peak-naming checkpoints')
            members = [self._load(path) for path in paths]
            categories = members[0][2]
            for path, (_, _, cats) in zip(paths[1:], members[1:]):
                if cats != categories:
                    raise ValueError(f'{path}: its namer was trained on categories {cats}, '
                                     f'{paths[0]} on {categories}: an ensemble needs one '
                                     'category order')
            namers = [m[0] for m in members]
            priors = [m[1] for m in members]
        else:
            namers = [namer] if isinstance(namer, nn.Module) else list(namer)
            if not namers:
                raise ValueError('namer: an empty list of peak namers')
            priors = [viewpoint_prior] * len(namers)
        self.categories = list(categories if categories is not None else category_names())
        self._members = []
        for member, prior in zip(namers, priors):
            if member.prior_inputs != (prior is not None):
                raise ValueError(f'a namer with prior_inputs={member.prior_inputs} and '
                                 f'viewpoint_prior={prior} do not go together')
            if len(self.categories) != member.num_categories:
                raise ValueError(f'{len(self.categories)} categories for a namer with '
                                 f'{member.num_categories} category embeddings')
            self._members.append((member.eval(),
                                  ViewpointNaming(**prior) if prior is not None else None))
        # the first member under its old names (one namer is the common case)
        self.namer, self.viewpoint_prior = self._members[0]
        self._index: Dict[str, int] = {c: i for i, c in enumerate(self.categories)}

    @staticmethod
    def _load(path: str):
        """(namer, viewpoint prior arguments, categories) of one checkpoint."""
        try:
            ckpt = torch.load(path, map_location='cpu', weights_only=True)
            meta = ckpt['meta']
            namer = PeakSetNamer(**meta['namer'])
            namer.load_state_dict(ckpt['state_dict'])
        except (OSError, KeyError, RuntimeError, TypeError) as err:
            raise ValueError(f'{path}: not a peak-naming checkpoint written by '
                             f'tools/train_peak_naming.py ({err})') from err
        return namer, meta.get('viewpoint_prior'), list(meta['categories'])

    def category_index(self, name: str) -> int:
        if name not in self._index:
            raise ValueError(f'category {name!r} is not one the peak namer was trained on '
                             f'({self.categories})')
        return self._index[name]

    @property
    def needs_context(self) -> bool:
        """Whether naming needs ``context=dict(box=..., image_rect=...)`` (any member of
        an ensemble reads it)."""
        return any(namer.context_inputs for namer, _ in self._members)

    def _context(self, context: Optional[dict]) -> dict:
        if not self.needs_context:
            return {}
        if context is None or context.get('box') is None or context.get('image_rect') is None:
            raise ValueError('this peak namer was trained with context inputs: naming needs '
                             "context=dict(box=..., image_rect=...) (the target's box and "
                             'the image, in the peaks\' pixels)')
        return dict(box=context['box'], image_rect=context['image_rect'])

    @torch.no_grad()
    def log_probs(self, peaks, scores, probs, category: str, box_size: float,
                  context: Optional[dict] = None) -> np.ndarray:
        """(M, n + 1) log p(keypoint | peak set), last column "no keypoint".
        ``context``: the target's ``box`` and the ``image_rect`` (x1, y1, x2, y2, in the
        peaks' pixels), for a namer with context inputs.

        An ensemble averages its members' probabilities; with ``mirror_test`` every
        member also names the target seen in a mirror (x negated, left and right
        keypoints swapped), whose names are swapped back before averaging, as mmpose's
        flip test does for heatmaps."""
        peaks = np.asarray(peaks, np.float64).reshape(-1, 2)
        probs = np.asarray(probs, np.float64)
        n = probs.shape[1]
        index = self.category_index(category)
        spec = get_category(category)
        context = self._context(context)
        views = [(peaks, probs, context, None)]
        if self.mirror_test:
            perm = mirror_permutation(spec)[:n]
            views.append((peaks * np.array([-1.0, 1.0]), probs[:, perm],
                          {k: mirror_rect(v) for k, v in context.items()}, perm))
        logps = []
        for namer, prior_naming in self._members:
            for p, q, ctx, perm in views:
                prior = (viewpoint_prior_names(prior_naming, p, scores, q, spec, box_size)
                         if prior_naming is not None else None)
                feats = peak_set_inputs(p, scores, q, box_size, namer.max_keypoints, prior,
                                        **(ctx if namer.context_inputs else {}))
                logits = namer(torch.from_numpy(feats)[None], torch.tensor([index]),
                               torch.tensor([n]),
                               torch.zeros(1, len(feats), dtype=torch.bool))[0]
                logp = F.log_softmax(logits, dim=-1).numpy()
                logp = np.concatenate([logp[:, :n], logp[:, -1:]], axis=1)
                if perm is not None:
                    logp[:, :n] = logp[:, perm]     # keypoint perm[i] of the mirror is i here
                logps.append(logp)
        if len(logps) == 1:
            return logps[0]
        # the mean of the probabilities, in log space
        return logsumexp(np.stack(logps), axis=0) - np.log(len(logps))

    def _name(self, peaks, scores, probs, category: str, box_size: float,
              context: Optional[dict] = None):
        """(rows, cols) of the one-to-one names and the (M, n + 1) log-probabilities
        they were chosen from."""
        m, n = np.asarray(probs).shape
        if m == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, n + 1))
        logp = self.log_probs(peaks, scores, probs, category, box_size, context)
        # n keypoint columns, then one "no keypoint" column per peak
        cost = np.full((m, n + m), 1e9)
        cost[:, :n] = -logp[:, :n]
        cost[np.arange(m), n + np.arange(m)] = -logp[:, n] + self.no_keypoint_penalty
        rows, cols = linear_sum_assignment(cost)
        keep = cols < n
        return rows[keep], cols[keep], logp

    def __call__(self, peaks, scores, probs, category: str, box_size: float,
                 context: Optional[dict] = None) -> Tuple[np.ndarray, np.ndarray]:
        """One-to-one names: (rows, cols) of the named peaks (peaks matched to "no
        keypoint" are left out)."""
        rows, cols, _ = self._name(peaks, scores, probs, category, box_size, context)
        return rows, cols

    def name_features(self, peaks: np.ndarray, scores: np.ndarray, probs: np.ndarray,
                      spec, box_size: float, features: np.ndarray,
                      return_probs: bool = False, context: Optional[dict] = None):
        """The peaks' canonical features after naming; with ``return_probs`` also
        (M, n) p(keypoint | peak set), the namer's confidence in each name (what
        ``keypoint_name_scores`` reports and LIS may weigh)."""
        out = np.array(features, dtype=np.float32, copy=True)
        spec = get_category(spec)
        rows, cols, logp = self._name(peaks, scores, probs, spec.name, box_size, context)
        out[rows] = spec.canonical_keypoints()[cols]
        if not return_probs:
            return out
        return out, np.exp(logp[:, :-1]).astype(np.float32)

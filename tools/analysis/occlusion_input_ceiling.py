"""How much occlusion information do the 2D-KGNN encoder's inputs hold?

    python tools/analysis/occlusion_input_ceiling.py TRAIN_DUMP VAL_DUMP [--epochs 150]

Both dumps come from ``tools/test.py <occlusion-net config> <ckpt> --dump F`` (the
train one with ``--cfg-options test_dataloader.dataset.ann_file=annotations/mv_train.json``).
An unconstrained MLP (no graph, no message passing) is fitted on TRAIN_DUMP to say,
per keypoint slot, whether it is occluded, from one instance's whole keypoint set
and its category, and scored (ROC-AUC of occluded vs visible) on VAL_DUMP, for two
inputs:

* ``init``: what the encoder sees: the heatmap model's initial keypoints (crop
  frame) and confidences;
* ``exact``: the labelled positions of every keypoint, occluded ones included,
  with confidence 1: the ceiling of any model given perfect initial keypoints.

With ``occluders`` in the annotations (kplink-synth) the AUC is also split by who
hides the keypoint: the instance itself or another object. If the encoder's AUC
is close to the ``init`` row, the encoder is at the ceiling of its input and only a
better keypoint model can raise it.
"""
import argparse
import os.path as osp
import pickle
import sys
from typing import Dict, List

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kplink_mm.evaluation.functional import roc_auc  # noqa: E402

INPUTS = ('init', 'exact')


def instance_features(samples: List[dict], inputs: str, categories: List[int],
                      max_keypoints: int) -> Dict[str, np.ndarray]:
    """Per instance: ``x`` (category one-hot, positions / crop scale, confidences,
    slot mask), ``occluded``/``labelled`` (per slot) and ``occluder`` (0 visible or
    unlabelled, 1 self, 2 another object, -1 unknown)."""
    if inputs not in INPUTS:
        raise ValueError(f'inputs must be one of {INPUTS}, got {inputs!r}')
    rows = dict(x=[], occluded=[], labelled=[], occluder=[])
    for i, s in enumerate(samples):
        try:
            start, n = (int(v) for v in s['category_slice'])
            states = np.asarray(s['keypoint_states']).reshape(-1)[start:start + n]
            if inputs == 'init':
                pred = s['pred_instances']
                kpts = np.asarray(pred['init_keypoints'])[0, start:start + n]
                conf = np.asarray(pred['init_scores'])[0, start:start + n]
            else:
                kpts = np.asarray(s['gt_instances']['keypoints'])[0, start:start + n]
                conf = np.ones(n)
            center, scale = np.asarray(s['input_center']), np.asarray(s['input_scale'])
            cat = int(s['category_id'])
        except KeyError as e:
            raise KeyError(f'sample {i} (img_id {s.get("img_id")}) lacks {e}: dump it with '
                           'tools/test.py --dump from an OcclusionNet config') from None
        if n > max_keypoints:
            raise ValueError(f'sample {i}: {n} keypoints > max_keypoints={max_keypoints}')
        if cat not in categories:
            raise ValueError(f'sample {i}: category_id {cat} not among the training '
                             f'dump\'s categories {categories}')
        pos, cf, slot = np.zeros((max_keypoints, 2)), np.zeros(max_keypoints), \
            np.zeros(max_keypoints)
        pos[:n], cf[:n], slot[:n] = (kpts - center) / scale, conf, 1
        onehot = np.zeros(len(categories))
        onehot[categories.index(cat)] = 1
        st = np.zeros(max_keypoints, int)
        st[:n] = states
        occ = np.full(max_keypoints, -1)
        ann = s.get('raw_ann_info') or {}
        if 'occluders' in ann and 'instance_id' in ann:
            who = np.asarray(ann['occluders'])[:n]
            occ[:n] = np.where(who == ann['instance_id'], 1, 2)
        occ = np.where(st == 1, occ, 0)
        rows['x'].append(np.concatenate([onehot, pos.ravel(), cf, slot]))
        rows['occluded'].append(st == 1)
        rows['labelled'].append((st == 1) | (st == 2))
        rows['occluder'].append(occ)
    return {k: np.asarray(v) for k, v in rows.items()}


def fit_mlp(x: np.ndarray, occluded: np.ndarray, labelled: np.ndarray, epochs: int,
            seed: int = 0, hidden: int = 256) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
                              torch.nn.Linear(hidden, occluded.shape[1]))
    opt = torch.optim.Adam(net.parameters(), 1e-3, weight_decay=1e-4)
    xt, yt, wt = (torch.as_tensor(a, dtype=torch.float32) for a in (x, occluded, labelled))
    for _ in range(epochs):
        perm = torch.randperm(len(xt))
        for i in range(0, len(perm), 128):
            b = perm[i:i + 128]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                net(xt[b]), yt[b], weight=wt[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return net.eval()


def score(net: torch.nn.Module, feats: Dict[str, np.ndarray]) -> Dict[str, float]:
    with torch.no_grad():
        logits = net(torch.as_tensor(feats['x'], dtype=torch.float32)).numpy()
    lab, occ = feats['labelled'], feats['occluder']
    visible = lab & ~feats['occluded']
    out = dict(all=roc_auc(logits[lab], feats['occluded'][lab]))
    for name, code in (('self', 1), ('other', 2)):
        keep = visible | (occ == code)
        out[name] = roc_auc(logits[keep], (occ == code)[keep]) if (occ == code).any() \
            else float('nan')
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('train_dump')
    parser.add_argument('val_dump')
    parser.add_argument('--epochs', type=int, default=150)
    parser.add_argument('--inputs', nargs='+', default=list(INPUTS), choices=INPUTS)
    parser.add_argument('--max-keypoints', type=int, default=12)
    args = parser.parse_args(argv)
    dumps = []
    for path in (args.train_dump, args.val_dump):
        try:
            with open(path, 'rb') as f:
                dumps.append(pickle.load(f))
        except (OSError, pickle.UnpicklingError, EOFError) as e:
            raise SystemExit(f'cannot read dump {path}: {e}') from None
        if not isinstance(dumps[-1], list) or not dumps[-1]:
            raise SystemExit(f'{path} holds no samples (expected the list written by '
                             'tools/test.py --dump)')
    categories = sorted({int(s.get('category_id', -1)) for s in dumps[0]})
    print(f'MLP on one instance\'s keypoint set ({len(dumps[0])} train / '
          f'{len(dumps[1])} val instances, {args.epochs} epochs); ROC-AUC occluded vs '
          'visible')
    print(f'{"input":<8} {"all":>7} {"self":>7} {"other":>7}')
    for inputs in args.inputs:
        feats = []
        for path, d in zip((args.train_dump, args.val_dump), dumps):
            try:
                feats.append(instance_features(d, inputs, categories, args.max_keypoints))
            except (KeyError, ValueError) as e:
                raise SystemExit(f'{path}: {e.args[0]}') from None
        train, val = feats
        net = fit_mlp(train['x'], train['occluded'], train['labelled'], args.epochs)
        auc = score(net, val)
        print(f'{inputs:<8} ' + ' '.join(f'{100 * auc[k]:>7.1f}' for k in ('all', 'self',
                                                                           'other')))


if __name__ == '__main__':
    main()

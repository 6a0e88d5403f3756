"""Train the learned peak-set naming of a classification CKLM head on its own peaks.

    python tools/test.py CKLM_CONFIG CKPT --dump train.pkl \
        --cfg-options test_dataloader.dataset.ann_file=annotations/train.json
    python tools/train_peak_naming.py train.pkl [more_train.pkl ...] \
        --out work_dirs/peak_naming.pth [--epochs 60] [--eval val.pkl ...]

Each dumped target's peaks (positions, scores, p(keypoint | peak)) are labelled by a
one-to-one match to the target's labelled keypoints within ``--radius`` x the box size
(the PCK radius) and a :class:`kplink_mm.models.utils.PeakSetNamer` learns the labels
(cross-entropy, unmatched peaks as "no keypoint"), with left/right mirrored copies of
every target. ``--eval`` dumps are re-named and scored (CategoryPCKMetric's numbers)
after training; choose settings on the training split, not on them:
``--holdout-every N`` trains on all but every N-th training image and prints, for
the held-out images, the one-to-one, viewpoint and learned namings side by side.

Why not mmengine's Runner: the namer is fitted on arrays already in the dump (a few
thousand targets of at most 24 peaks): one epoch is well under a second, while a
Runner loop would run the frozen CKLM over every crop again each epoch. The result
plugs into the standard tools: ``CKLMHead(identity_feature='set',
peak_naming=dict(checkpoint=...))`` online, ``eval_pck_dump.py --naming set
--peak-naming CKPT`` offline.
"""
import argparse
import json
import os
import os.path as osp
import sys

import numpy as np
import torch
import torch.nn.functional as F

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from kplink_mm.datasets.synth.categories import category_names, get_category  # noqa: E402
from kplink_mm.evaluation.dump import pck_records_from_dump  # noqa: E402
from kplink_mm.evaluation.functional import KEYPOINT_CHOICES  # noqa: E402
from kplink_mm.evaluation.functional.renaming import record_context, rename_record  # noqa: E402
from kplink_mm.evaluation.metrics.category_pck import score_records  # noqa: E402
from kplink_mm.models.utils.peak_set_naming import (PeakSetNamer, PeakSetNaming,  # noqa: E402
                                                    mirror_permutation, mirror_rect,
                                                    peak_set_inputs, peak_set_labels,
                                                    viewpoint_prior_names)
from kplink_mm.models.utils.viewpoint_naming import ViewpointNaming  # noqa: E402


def load_records(path):
    try:
        records = pck_records_from_dump(path)
    except ValueError as err:
        raise SystemExit(str(err))
    if not records:
        raise SystemExit(f'{path} holds no predictions')
    for r in records:
        if 'peak_probs' not in r:
            raise SystemExit(f'{path}: image {r.get("img_id")!r} has no peak_probs: the '
                             'peak naming needs a dump of a classification CKLM')
    return records


def _mirror(spec, peaks, probs, labels, context, keypoint_peaks):
    """The target seen in a mirror: x negated, left/right keypoints swapped (and the
    box and image rectangle of ``context``, if any, mirrored with it; ``keypoint_peaks``,
    one peak index per keypoint, follows the swapped keypoints)."""
    perm = mirror_permutation(spec)
    mirrored = labels.copy()
    mirrored[labels >= 0] = perm[labels[labels >= 0]]
    if context is not None:
        context = {k: mirror_rect(v) for k, v in context.items()}
    swapped = keypoint_peaks.copy()
    swapped[perm] = keypoint_peaks          # keypoint perm[i] of the mirror is i here
    return peaks * np.array([-1.0, 1.0]), probs[:, perm], mirrored, context, swapped


def keypoint_peak_targets(peaks: np.ndarray, gt_keypoints: np.ndarray, labelled: np.ndarray,
                          radius: float) -> np.ndarray:
    """(N, ) for each labelled keypoint the index of its nearest peak within ``radius``
    (pixels), -1 where none: what each keypoint should take when it takes its likeliest
    peak. Unlike the peaks' one-to-one labels, two keypoints may share a peak."""
    gt = np.asarray(gt_keypoints, np.float64)[:, :2]
    out = np.full(len(gt), -1, np.int64)
    if len(peaks) == 0:
        return out
    dist = np.linalg.norm(gt[:, None] - np.asarray(peaks)[None], axis=-1)
    nearest = dist.argmin(axis=1)
    ok = np.asarray(labelled, bool) & (dist[np.arange(len(gt)), nearest] <= radius)
    out[ok] = nearest[ok]
    return out


def build_examples(records, categories, max_keypoints, radius, mirror=True,
                   viewpoint_prior=None, context_inputs=False):
    """Padded tensors (inputs, category, num_keypoints, padding, labels,
    keypoint_peaks) of all targets that have at least one peak: ``labels`` (B, M) each
    peak's keypoint or "no keypoint" (one-to-one), ``keypoint_peaks`` (B, max_keypoints)
    each keypoint's nearest peak within the radius or -100 (``keypoint_peak_targets``);
    ``viewpoint_prior``: a ViewpointNaming whose names are inputs too;
    ``context_inputs``: the target's box and the image border are inputs too (records
    need ``ori_shape``)."""
    index = {c: i for i, c in enumerate(categories)}
    items = []
    for r in records:
        spec = get_category(r['category'])
        n = len(spec.keypoint_names)
        real = np.asarray(r['peak_scores']) > 0
        if not real.any():
            continue
        peaks = np.asarray(r['peaks'], np.float64)[real][:, :2]
        scores = np.asarray(r['peak_scores'], np.float64)[real]
        probs = np.asarray(r['peak_probs'], np.float64)[real][:, :n]
        bbox = np.asarray(r['bbox'], np.float64).reshape(4)
        box = max(bbox[2] - bbox[0], bbox[3] - bbox[1])
        labelled = np.asarray(r['states']) > 0
        labels = peak_set_labels(peaks, r['gt_keypoints'], labelled, radius * box)
        targets = keypoint_peak_targets(peaks, r['gt_keypoints'], labelled, radius * box)
        context = record_context(r) if context_inputs else None
        views = [(peaks, probs, labels, context, targets)]
        if mirror:
            views.append(_mirror(spec, peaks, probs, labels, context, targets))
        for p, q, lab, ctx, tgt in views:
            lab = np.where(lab < 0, max_keypoints, lab)        # "no keypoint" slot
            prior = (viewpoint_prior_names(viewpoint_prior, p, scores, q, spec, box)
                     if viewpoint_prior is not None else None)
            items.append((peak_set_inputs(p, scores, q, box, max_keypoints, prior,
                                          **(ctx or {})),
                          index[spec.name], n, lab, tgt))
    m = max(len(it[3]) for it in items)
    f = items[0][0].shape[1]
    inputs = torch.zeros(len(items), m, f)
    padding = torch.ones(len(items), m, dtype=torch.bool)
    labels = torch.full((len(items), m), -100, dtype=torch.long)       # ignored
    keypoint_peaks = torch.full((len(items), max_keypoints), -100, dtype=torch.long)
    for b, (x, _, _, lab, tgt) in enumerate(items):
        inputs[b, :len(x)] = torch.from_numpy(x)
        padding[b, :len(x)] = False
        labels[b, :len(x)] = torch.from_numpy(lab)
        keypoint_peaks[b, :len(tgt)] = torch.from_numpy(np.where(tgt < 0, -100, tgt))
    category = torch.tensor([it[1] for it in items])
    num_kpts = torch.tensor([it[2] for it in items])
    return inputs, category, num_kpts, padding, labels, keypoint_peaks


def keypoint_choice_loss(logits: torch.Tensor, padding: torch.Tensor,
                         keypoint_peaks: torch.Tensor) -> torch.Tensor:
    """Cross-entropy, per labelled keypoint, over the target's peaks of the namer's
    log p(keypoint | peak): trains the ranking that ``keypoint_choice='probability'``
    reads (each keypoint takes its likeliest peak), where the peaks' own loss only
    sees each peak's one-to-one label. ``logits`` (B, M, K + 1) with finite masks."""
    logp = F.log_softmax(logits, dim=-1)[..., :-1]                 # (B, M, K)
    logp = logp.masked_fill(padding[..., None], -1e4).transpose(1, 2)   # (B, K, M)
    if not (keypoint_peaks >= 0).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logp.flatten(0, 1), keypoint_peaks.flatten(), ignore_index=-100)


def train(examples, namer, epochs, batch_size, lr, seed, log=print, keypoint_loss_weight=0.0):
    inputs, category, num_kpts, padding, labels, keypoint_peaks = examples
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(namer.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, epochs)
    namer.train()
    for epoch in range(epochs):
        order = torch.randperm(len(inputs), generator=gen)
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            b = order[start:start + batch_size]
            logits = namer(inputs[b], category[b], num_kpts[b], padding[b])
            # masked slots are -inf: replace by a large negative so CE stays finite
            logits = logits.masked_fill(torch.isinf(logits), -1e4)
            loss = F.cross_entropy(logits.flatten(0, 1), labels[b].flatten(), ignore_index=-100)
            if keypoint_loss_weight:
                loss = loss + keypoint_loss_weight * keypoint_choice_loss(
                    logits, padding[b], keypoint_peaks[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(b)
            count += len(b)
        sched.step()
        if epoch == 0 or (epoch + 1) % 10 == 0 or epoch + 1 == epochs:
            log(f'epoch {epoch + 1}/{epochs}: loss {total / count:.4f}')
    return namer.eval()


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('train_dumps', nargs='+', metavar='train_dump',
                   help='tools/test.py --dump of a classification CKLM on train; several '
                   'dumps of the same checkpoint on different training splits are pooled')
    p.add_argument('--out', required=True, help='checkpoint to write')
    p.add_argument('--eval', nargs='*', default=[], help='dumps to re-name and score')
    p.add_argument('--epochs', type=int, default=60)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--lr', type=float, default=1e-3)
    p.add_argument('--radius', type=float, default=0.1,
                   help='label radius, a fraction of max(bbox w, h)')
    p.add_argument('--embed-dims', type=int, default=64)
    p.add_argument('--num-layers', type=int, default=2)
    p.add_argument('--no-mirror', action='store_true')
    p.add_argument('--viewpoint-prior', default=None,
                   help='ViewpointNaming arguments as JSON ("{}": defaults): its names '
                   'are namer inputs too')
    p.add_argument('--context-inputs', action='store_true',
                   help="the namer also reads where the peaks lie in the target's box and "
                   'where the box lies in the image (truncation); dumps need ori_shape')
    p.add_argument('--dropout', type=float, default=0.0)
    p.add_argument('--holdout-every', type=int, default=0,
                   help='hold out every N-th training image (by img_id) and compare '
                   'the namings on them (0: train on all)')
    p.add_argument('--no-keypoint-penalty', nargs='+', type=float, default=[0.0],
                   metavar='P', help='score the held-out and --eval namings with '
                   'PeakSetNaming(no_keypoint_penalty=P), one row per P: choose P here, '
                   'on held-out training images, then set it in the config (it changes '
                   "the peaks' names, not the 'by-prob' rows, which read p(keypoint | peak))")
    p.add_argument('--keypoint-choice', nargs='+', choices=KEYPOINT_CHOICES,
                   default=['feature'], help="score with rename_record(keypoint_choice=...) "
                   "too, one row per choice ('by-prob' rows: each keypoint takes the peak "
                   'the namer finds most likely to be it)')
    p.add_argument('--mirror-test', action='store_true',
                   help="score the held-out and --eval namings with "
                   "PeakSetNaming(mirror_test=True) too (rows suffixed 'mirror')")
    p.add_argument('--keypoint-loss-weight', type=float, default=0.0,
                   help='weight of keypoint_choice_loss (each labelled keypoint picks its '
                   'nearest peak among the target\'s peaks by the namer\'s p(keypoint | '
                   "peak)): for --keypoint-choice probability; 0: the peaks' loss only")
    p.add_argument('--seed', type=int, default=0)
    return p.parse_args(argv)


def _image_key(record):
    # img_ids restart in every split, so an image is (which dump, img_id)
    return (record.get('_dump', 0), record.get('img_id'))


def split_holdout(records, every):
    """(fit, held out): every ``every``-th image (sorted by dump, then img_id) is held
    out, with all of its targets, so no image is on both sides."""
    ids = sorted({_image_key(r) for r in records}, key=str)
    held = set(ids[::every])
    return ([r for r in records if _image_key(r) not in held],
            [r for r in records if _image_key(r) in held])


def load_training_records(paths):
    """All targets of the training dumps, each tagged with the index of its dump."""
    records = []
    for index, path in enumerate(paths):
        for r in load_records(path):
            r['_dump'] = index
            records.append(r)
    return records


def _row(name, m, targets):
    return (f"{name:<32} {100 * m['PCK']:6.1f} {100 * m.get('PCK_occluded', float('nan')):9.1f} "
            f"{100 * m['OracleId']:9.1f} {targets:8d}")


def main(argv=None):
    args = parse_args(argv)
    penalties = args.no_keypoint_penalty
    if not all(np.isfinite(penalties)):
        raise SystemExit(f'--no-keypoint-penalty: expected finite numbers, got {penalties}')
    if not (np.isfinite(args.keypoint_loss_weight) and args.keypoint_loss_weight >= 0):
        raise SystemExit(f'--keypoint-loss-weight: expected a finite number >= 0, got '
                         f'{args.keypoint_loss_weight}')
    # a tiny model: more threads only add synchronisation (measured: with 2 threads next
    # to a training on 2 cores, 60 epochs did not finish in 10 min; with 1, seconds)
    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    categories = list(category_names())
    max_k = max(len(get_category(c).keypoint_names) for c in categories)
    records = load_training_records(args.train_dumps)
    source = ' + '.join(args.train_dumps)
    held = []
    if args.holdout_every:
        if args.holdout_every < 2:
            raise SystemExit(f'--holdout-every must be >= 2, got {args.holdout_every}')
        records, held = split_holdout(records, args.holdout_every)
        if not records or not held:
            raise SystemExit(f'{source}: --holdout-every {args.holdout_every} '
                             f'leaves {len(records)} targets to fit, {len(held)} held out')
    prior_cfg = None
    if args.viewpoint_prior is not None:
        try:
            prior_cfg = json.loads(args.viewpoint_prior)
            prior = ViewpointNaming(**prior_cfg)
        except (json.JSONDecodeError, TypeError, ValueError) as err:
            raise SystemExit(f'--viewpoint-prior {args.viewpoint_prior!r}: {err}')
    try:
        examples = build_examples(records, categories, max_k, args.radius, not args.no_mirror,
                                  prior if prior_cfg is not None else None,
                                  args.context_inputs)
    except ValueError as err:
        raise SystemExit(f'{source}: {err}')
    named = int((examples[4] >= 0).sum() - (examples[4] == max_k).sum())
    print(f'{source}: {len(records)} targets, {len(examples[0])} training sets '
          f'(mirrored: {not args.no_mirror}), {named} labelled peaks')
    meta = dict(namer=dict(num_categories=len(categories), max_keypoints=max_k,
                           embed_dims=args.embed_dims, num_layers=args.num_layers,
                           dropout=args.dropout, prior_inputs=prior_cfg is not None,
                           context_inputs=args.context_inputs),
                categories=categories, viewpoint_prior=prior_cfg,
                trained_on=dict(dump=source, dumps=list(args.train_dumps), targets=len(records),
                                epochs=args.epochs, radius=args.radius,
                                mirror=not args.no_mirror, seed=args.seed,
                                holdout_every=args.holdout_every,
                                keypoint_loss_weight=args.keypoint_loss_weight))
    namer = train(examples, PeakSetNamer(**meta['namer']), args.epochs, args.batch_size,
                  args.lr, args.seed, keypoint_loss_weight=args.keypoint_loss_weight)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    torch.save(dict(meta=meta, state_dict=namer.state_dict()), args.out)
    print(f'wrote {args.out}')
    namings = {}          # row: (naming, keypoint choice)
    for penalty in penalties:
        for mirror in ((False, True) if args.mirror_test else (False, )):
            naming = PeakSetNaming(checkpoint=args.out, no_keypoint_penalty=penalty,
                                   mirror_test=mirror)
            for choice in args.keypoint_choice:
                row = 'set (this namer)' + (f' p{penalty:g}' if penalties != [0.0] else '') + (
                    ' mirror' if mirror else '') + (' by-prob' if choice == 'probability' else '')
                namings[row] = (naming, choice)
    results = {}
    if held:
        print(f'held out: every {args.holdout_every}-th image of {source}')
        print(f"{'naming':<32} {'PCK':>6} {'occluded':>9} {'OracleId':>9} {'targets':>8}")
        rows = [('assignment', ('assignment', 'feature')),
                ('viewpoint', (ViewpointNaming(), 'feature'))]
        for name, (row_naming, choice) in rows + list(namings.items()):
            metrics = score_records([rename_record(r, row_naming, keypoint_choice=choice)
                                     for r in held])[0]
            print(_row(name, metrics, len(held)))
            if name in namings:
                results.setdefault('holdout_rows', {})[name] = metrics
        results['holdout'] = metrics          # the last row: this namer
    for path in args.eval:
        records = load_records(path)
        for name, (naming, choice) in namings.items():
            metrics, _, _ = score_records([rename_record(r, naming, keypoint_choice=choice)
                                           for r in records])
            # a split without occluded keypoints has no occluded PCK
            occluded = 100 * metrics.get('PCK_occluded', float('nan'))
            suffix = name[len('set (this namer)'):]
            print(f"{path}, peak-set naming{suffix}: PCK {100 * metrics['PCK']:.1f}, "
                  f"occluded {occluded:.1f}, OracleId {100 * metrics['OracleId']:.1f} "
                  '(per category: tools/analysis/eval_pck_dump.py --naming set)')
            results.setdefault('rows', {}).setdefault(path, {})[name] = metrics
        results[path] = metrics
    return results


if __name__ == '__main__':
    main()

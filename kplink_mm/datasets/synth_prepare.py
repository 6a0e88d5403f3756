"""Generate kplink-synth's default splits when a config needs them and they are missing.

Several processes (DDP ranks, dataloader workers of train and val) may ask at once, so
generation happens under an exclusive file lock and is checked again inside it.
"""
import fcntl
import os
import os.path as osp


def ensure_annotation_file(data_root: str, ann_file: str) -> str:
    """Return the absolute annotation path, generating the default set if needed."""
    path = ann_file if osp.isabs(ann_file) else osp.join(data_root or '', ann_file)
    if osp.isfile(path):
        return path
    from .synth.generator import DEFAULT_SPLITS, ensure_default_synth
    split = osp.splitext(osp.basename(path))[0]
    default_path = osp.join(data_root or '', 'annotations', f'{split}.json')
    if split not in DEFAULT_SPLITS or osp.abspath(default_path) != osp.abspath(path):
        raise FileNotFoundError(
            f'annotation file {path} does not exist and is not one of the default '
            f'kplink-synth splits {sorted(DEFAULT_SPLITS)} under {data_root}; generate '
            'it with tools/dataset_converters/generate_synth.py')
    os.makedirs(data_root, exist_ok=True)
    with open(osp.join(data_root, '.generate.lock'), 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not osp.isfile(path):
                ensure_default_synth(data_root)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    if not osp.isfile(path):
        raise FileNotFoundError(f'generating kplink-synth did not produce {path}')
    return path


def check_bbox(ann_file: str, ann: dict) -> None:
    """A COCO bbox must be 4 numbers; say which file and annotation when it is not."""
    bbox = ann.get('bbox')
    if bbox is None or len(bbox) != 4:
        raise ValueError(f'{ann_file}: annotation id={ann.get("id")} has an invalid '
                         f'"bbox": {bbox!r}')


class AutoGenerateMixin:
    """`auto_generate=True` (default): make the default splits on first use."""

    def __init__(self, *args, auto_generate: bool = True, **kwargs):
        if auto_generate and kwargs.get('ann_file') and not kwargs.get('lazy_init'):
            ensure_annotation_file(kwargs.get('data_root') or '', kwargs['ann_file'])
        super().__init__(*args, **kwargs)

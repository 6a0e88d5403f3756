"""kplink-synth as an mmdet COCO detection dataset (boxes + category labels)."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .metainfo import _palette
from .synth.categories import CATEGORIES
from .synth_prepare import ensure_annotation_file


@DATASETS.register_module()
class KplinkSynthDetDataset(CocoDataset):
    """Boxes of kplink-synth; instances with iscrowd=1 (almost hidden) are ignored.

    Args:
        auto_generate (bool): generate the default splits when `ann_file` is one of
            them and missing. Defaults to True.
    """

    METAINFO = dict(classes=tuple(CATEGORIES), palette=[tuple(c) for c in _palette(len(CATEGORIES))])

    def __init__(self, *args, auto_generate: bool = True, **kwargs):
        if auto_generate and kwargs.get('ann_file') and not kwargs.get('lazy_init'):
            ensure_annotation_file(kwargs.get('data_root') or '', kwargs['ann_file'])
        super().__init__(*args, **kwargs)

    def parse_data_info(self, raw_data_info: dict):
        for ann in raw_data_info['raw_ann_info']:
            if ann.get('category_id') not in self.cat2label:
                raise ValueError(
                    f'{self.ann_file}: annotation id={ann.get("id")} has unknown '
                    f'category_id={ann.get("category_id")!r}; known ids: '
                    f'{sorted(self.cat2label)}')
            bbox = ann.get('bbox')
            if bbox is None or len(bbox) != 4:
                raise ValueError(f'{self.ann_file}: annotation id={ann.get("id")} has '
                                 f'an invalid "bbox": {bbox!r}')
        return super().parse_data_info(raw_data_info)

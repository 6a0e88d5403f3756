"""kplink-synth as an mmdet COCO detection dataset (boxes + category labels)."""
from mmdet.datasets import CocoDataset
from mmdet.registry import DATASETS

from .metainfo import _palette
from .synth.categories import CATEGORIES
from .synth_prepare import AutoGenerateMixin, check_bbox


@DATASETS.register_module()
class KplinkSynthDetDataset(AutoGenerateMixin, CocoDataset):
    """Boxes of kplink-synth; instances with iscrowd=1 (almost hidden) are ignored.

    Args:
        auto_generate (bool): generate the default splits when `ann_file` is one of
            them and missing. Defaults to True.
    """

    METAINFO = dict(classes=tuple(CATEGORIES), palette=[tuple(c) for c in _palette(len(CATEGORIES))])

    def parse_data_info(self, raw_data_info: dict):
        for ann in raw_data_info['raw_ann_info']:
            if ann.get('category_id') not in self.cat2label:
                raise ValueError(
                    f'{self.ann_file}: annotation id={ann.get("id")} has unknown '
                    f'category_id={ann.get("category_id")!r}; known ids: '
                    f'{sorted(self.cat2label)}')
            check_bbox(self.ann_file, ann)
        return super().parse_data_info(raw_data_info)

from .category_pck import CategoryPCKMetric, evaluate_records, record_from_sample
from .link_metric import LinkPredictionMetric
from .link_metric import evaluate_records as evaluate_link_records
from .link_metric import record_from_sample as link_record_from_sample
from .occlusion_metric import OcclusionKeypointMetric, occlusion_curves
from .occlusion_metric import evaluate_records as evaluate_occlusion_records
from .occlusion_metric import record_from_sample as occlusion_record_from_sample

__all__ = ['CategoryPCKMetric', 'evaluate_records', 'record_from_sample',
           'OcclusionKeypointMetric', 'evaluate_occlusion_records',
           'occlusion_record_from_sample', 'occlusion_curves', 'LinkPredictionMetric',
           'evaluate_link_records', 'link_record_from_sample']

from .functional import identify_keypoints, oracle_identify, pck_hits
from .metrics import CategoryPCKMetric, evaluate_records

__all__ = ['identify_keypoints', 'oracle_identify', 'pck_hits', 'CategoryPCKMetric',
           'evaluate_records']

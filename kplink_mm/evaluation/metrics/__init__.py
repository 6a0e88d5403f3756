from .category_pck import CategoryPCKMetric, evaluate_records, record_from_sample

__all__ = ['CategoryPCKMetric', 'evaluate_records', 'record_from_sample']

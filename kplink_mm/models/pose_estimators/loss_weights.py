"""Per-term loss weights of the multi-head pose estimators (KLPNet, OcclusionNet)."""
from typing import Dict, Mapping, Optional


def merge_loss_weights(defaults: Mapping[str, float],
                       given: Optional[Mapping[str, float]]) -> Dict[str, float]:
    """``defaults`` updated by ``given``; a key of ``given`` that names no loss term
    is an error (a misspelt weight would otherwise be ignored silently)."""
    weights = dict(defaults)
    unknown = set(given or {}) - set(weights)
    if unknown:
        raise KeyError(f'loss_weights: unknown keys {sorted(unknown)}; expected '
                       f'{sorted(weights)}')
    weights.update(given or {})
    return weights

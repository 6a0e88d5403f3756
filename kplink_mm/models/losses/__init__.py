from .trifocal_loss import TrifocalLoss

__all__ = ['TrifocalLoss']

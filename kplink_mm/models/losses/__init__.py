from .epipolar_loss import EpipolarLoss
from .trifocal_loss import TrifocalLoss

__all__ = ['EpipolarLoss', 'TrifocalLoss']

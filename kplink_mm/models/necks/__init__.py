from .dpad import DPAD

__all__ = ['DPAD']

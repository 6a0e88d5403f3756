from .cklm_head import CKLMHead
from .kgnn2d_head import KGNN2DDecoder, KGNN2DEncoder, KGNN2DHead
from .kgnn3d_head import KGNN3DHead

__all__ = ['CKLMHead', 'KGNN2DEncoder', 'KGNN2DDecoder', 'KGNN2DHead', 'KGNN3DHead']

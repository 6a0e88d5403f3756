from .cklm_head import CKLMHead
from .clpgm_head import CLPGMHead
from .kgnn2d_head import KGNN2DDecoder, KGNN2DEncoder, KGNN2DHead
from .kgnn3d_head import KGNN3DHead

__all__ = ['CKLMHead', 'CLPGMHead', 'KGNN2DEncoder', 'KGNN2DDecoder', 'KGNN2DHead',
           'KGNN3DHead']

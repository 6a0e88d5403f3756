from .cklm_head import CKLMHead

__all__ = ['CKLMHead']

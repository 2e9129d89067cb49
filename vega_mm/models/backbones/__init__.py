from .sdt import (CrossModalLayer, CrossModalTransformer, MaskedMultiHeadAttention,
                  SDTBackbone, SinusoidalPositionalEncoding)

# The backbone's name before it was named as one (still registered).
SDTNeck = SDTBackbone

__all__ = ['SDTBackbone', 'SDTNeck', 'CrossModalTransformer', 'CrossModalLayer',
           'MaskedMultiHeadAttention', 'SinusoidalPositionalEncoding']

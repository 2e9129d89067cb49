from .sdt import (CrossModalLayer, CrossModalTransformer, MaskedMultiHeadAttention,
                  SDTBackbone, SinusoidalPositionalEncoding)
from .sdt_fused import FusedSDTBackbone
from .utterance_encoders import BcLSTMBackbone, ModalityProjection, UtteranceMLPBackbone

# The backbone's name before it was named as one (still registered).
SDTNeck = SDTBackbone

__all__ = ['SDTBackbone', 'SDTNeck', 'FusedSDTBackbone', 'CrossModalTransformer',
           'CrossModalLayer', 'MaskedMultiHeadAttention', 'SinusoidalPositionalEncoding',
           'UtteranceMLPBackbone', 'BcLSTMBackbone', 'ModalityProjection']

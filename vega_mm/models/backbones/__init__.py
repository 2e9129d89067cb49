from .base import ConversationBackbone
from .sdt import (CrossModalLayer, CrossModalTransformer, MaskedMultiHeadAttention,
                  SDTBackbone, SinusoidalPositionalEncoding, attention_bias)
from .sdt_fused import FusedSDTBackbone, SDTWeightLayout
from .utterance_encoders import BcLSTMBackbone, ModalityProjection, UtteranceMLPBackbone

__all__ = ['ConversationBackbone', 'SDTBackbone', 'FusedSDTBackbone', 'SDTWeightLayout',
           'CrossModalTransformer', 'CrossModalLayer', 'MaskedMultiHeadAttention',
           'SinusoidalPositionalEncoding', 'attention_bias', 'UtteranceMLPBackbone',
           'BcLSTMBackbone', 'ModalityProjection']

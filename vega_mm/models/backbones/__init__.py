from .base import ConversationBackbone
try:
    from .dialoguegcn import DialogueGCNBackbone, WeightedRGCNConv
    from .mmgcn import GCNIIVariantLayer, MMGCNBackbone
except ImportError as exc:  # PyTorch Geometric (the 'graph' extra) is missing
    from .graph_utils import missing_graph_extra
    DialogueGCNBackbone, WeightedRGCNConv, MMGCNBackbone, GCNIIVariantLayer = \
        missing_graph_extra(('DialogueGCNBackbone', 'WeightedRGCNConv', 'MMGCNBackbone',
                             'GCNIIVariantLayer'), exc)
from .sdt import (CrossModalLayer, CrossModalTransformer, MaskedMultiHeadAttention,
                  SDTBackbone, SinusoidalPositionalEncoding, attention_bias)
from .sdt_fused import FusedSDTBackbone, SDTWeightLayout
from .utterance_encoders import BcLSTMBackbone, ModalityProjection, UtteranceMLPBackbone

__all__ = ['ConversationBackbone', 'SDTBackbone', 'FusedSDTBackbone', 'SDTWeightLayout',
           'CrossModalTransformer', 'CrossModalLayer', 'MaskedMultiHeadAttention',
           'SinusoidalPositionalEncoding', 'attention_bias', 'UtteranceMLPBackbone',
           'BcLSTMBackbone', 'ModalityProjection', 'DialogueGCNBackbone', 'WeightedRGCNConv',
           'MMGCNBackbone', 'GCNIIVariantLayer']

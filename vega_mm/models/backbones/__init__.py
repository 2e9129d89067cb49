import warnings

from .base import ConversationBackbone
try:
    with warnings.catch_warnings():
        # PyTorch Geometric scripts a few of its helpers with torch.jit.script when it is
        # imported; torch >= 2.9 warns that torch.jit.script is deprecated. It is
        # PyG's business, not the user's, and it would precede every tool's output.
        warnings.filterwarnings('ignore', message='`torch.jit.script` is deprecated',
                                category=FutureWarning)
        from .dialoguegcn import DialogueGCNBackbone, WeightedRGCNConv
        from .graphsmile import GraphSmileBackbone, HeterGraphStack
        from .m3net import M3NetBackbone, M3NetGatedConv, M3NetHypergraphConv
        from .mmgcn import GCNIIVariantLayer, MMGCNBackbone
except ImportError as exc:  # PyTorch Geometric (the 'graph' extra) is missing
    from .graph_utils import missing_graph_extra
    (DialogueGCNBackbone, WeightedRGCNConv, MMGCNBackbone, GCNIIVariantLayer,
     GraphSmileBackbone, HeterGraphStack, M3NetBackbone, M3NetGatedConv,
     M3NetHypergraphConv) = missing_graph_extra(
        ('DialogueGCNBackbone', 'WeightedRGCNConv', 'MMGCNBackbone', 'GCNIIVariantLayer',
         'GraphSmileBackbone', 'HeterGraphStack', 'M3NetBackbone', 'M3NetGatedConv',
         'M3NetHypergraphConv'), exc)
from .sdt import (CrossModalLayer, CrossModalTransformer, MaskedMultiHeadAttention,
                  SDTBackbone, SinusoidalPositionalEncoding, attention_bias)
from .sdt_fused import FusedSDTBackbone, SDTWeightLayout
from .utterance_encoders import BcLSTMBackbone, ModalityProjection, UtteranceMLPBackbone

__all__ = ['ConversationBackbone', 'SDTBackbone', 'FusedSDTBackbone', 'SDTWeightLayout',
           'CrossModalTransformer', 'CrossModalLayer', 'MaskedMultiHeadAttention',
           'SinusoidalPositionalEncoding', 'attention_bias', 'UtteranceMLPBackbone',
           'BcLSTMBackbone', 'ModalityProjection', 'DialogueGCNBackbone', 'WeightedRGCNConv',
           'MMGCNBackbone', 'GCNIIVariantLayer', 'M3NetBackbone', 'M3NetHypergraphConv',
           'M3NetGatedConv', 'GraphSmileBackbone', 'HeterGraphStack']

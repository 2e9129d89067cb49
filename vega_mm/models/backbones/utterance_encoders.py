"""Baseline backbones of the benchmark: a context-free MLP on each utterance and bc-LSTM.

Both follow the backbone contract (:mod:`vega_mm.models.backbones.base`):
``forward(feats, mask, speakers)`` returns ``{modality: [N, H], 'fused': [N, H]}`` for the
N real utterances, so ``ConversationClassifier`` with a ``LabelHead`` trains, evaluates
and checkpoints them unchanged.
Each modality's output is its projected utterance features (no context); only
``'fused'`` differs between the two.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vega_mm.registry import MODELS
from .base import ConversationBackbone


@MODELS.register_module()
class ModalityProjection(BaseModule):
    """Per-modality ``Linear(D_m, H) -> GELU -> Dropout`` of the baseline backbones.

    Args:
        input_dims: feature dimension per modality (validated by the owning backbone);
            its keys name the modalities, in order.
        hidden_dim: H.
        dropout: dropout after the projection.
    """

    def __init__(self, input_dims: Dict[str, int], hidden_dim: int,
                 dropout: float) -> None:
        super().__init__()
        self.modalities: Tuple[str, ...] = tuple(input_dims)
        self.input_dims = dict(input_dims)
        self.proj = nn.ModuleDict({
            m: nn.Sequential(nn.Linear(self.input_dims[m], hidden_dim), nn.GELU(),
                             nn.Dropout(dropout))
            for m in self.modalities
        })

    def forward(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``{modality: [..., D_m]}`` -> ``{modality: [..., H]}``."""
        return {m: self.proj[m](feats[m]) for m in self.modalities}


@MODELS.register_module()
class UtteranceMLPBackbone(ConversationBackbone):
    """Context-free baseline: every utterance on its own, no dialogue, no speakers.

    ``h_m = GELU(W_m x_m)`` per modality; ``h_fused = GELU(W [h_t; h_a; h_v])``.  With a
    ``LabelHead`` on top (an MLP per branch) this is an MLP on the concatenated
    per-modality projections.

    Args:
        input_dims: feature dimension per modality, e.g. ``dict(text=384)``.
        hidden_dim: H.
        dropout: dropout after each layer.
        num_speakers: recorded for the data preprocessor (speakers are not used).
        init_cfg: initialisation config.

    Forward and returns: the backbone contract (speakers are ignored).  Causal: an
    utterance's outputs depend on itself only.
    """

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: int = 128,
                 dropout: float = 0.1,
                 num_speakers: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(input_dims, hidden_dim, num_speakers, causal=True,
                         init_cfg=init_cfg)
        self.projection = ModalityProjection(self.input_dims, hidden_dim, dropout)
        self.fuse = nn.Sequential(
            nn.Linear(len(self.modalities) * hidden_dim, hidden_dim), nn.GELU(),
            nn.Dropout(dropout))

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        # computed on the padded batch, then packed: dropout draws the same numbers
        # whatever the layout of the output
        out = self.projection(feats)
        out['fused'] = self.fuse(torch.cat([out[m] for m in self.modalities], dim=-1))
        return {k: v[mask] for k, v in out.items()}


@MODELS.register_module()
class BcLSTMBackbone(ConversationBackbone):
    """bc-LSTM (Poria et al., ACL 2017): a bidirectional LSTM over the utterances of a
    dialogue, on the concatenated per-modality utterance features.

    ``h_m = GELU(W_m x_m)`` per modality; ``h_fused = Dropout(BiLSTM([h_t; h_a; h_v]))``
    with H/2 units per direction, run on packed sequences so padding never reaches the
    real utterances (the backward direction starts at each dialogue's last utterance).

    Args:
        input_dims: feature dimension per modality, e.g. ``dict(text=384)``.
        hidden_dim: H (even: H/2 units per direction).
        num_layers: stacked LSTM layers.
        dropout: dropout after the projections, between LSTM layers and on its output.
        **kwargs: :class:`ConversationBackbone`'s ``num_speakers`` (2; recorded for the
            data preprocessor, speakers are not used, as in bc-LSTM), ``max_len`` (None:
            no limit), ``causal`` (refused: :attr:`non_causal_reason`) and ``init_cfg``.

    Forward and returns: the backbone contract (speakers are ignored; the mask must
    mark each dialogue's first n_b positions).
    """

    non_causal_reason = "its LSTM is bidirectional: it reads a dialogue's later utterances"

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: int = 128,
                 num_layers: int = 1,
                 dropout: float = 0.1,
                 **kwargs) -> None:
        super().__init__(input_dims, hidden_dim, **kwargs)
        if hidden_dim % 2:
            raise ValueError(f'BcLSTMBackbone.hidden_dim must be even (H/2 units per '
                             f'direction), got {hidden_dim}')
        self.projection = ModalityProjection(self.input_dims, hidden_dim, dropout)
        self.lstm = nn.LSTM(len(self.modalities) * hidden_dim, hidden_dim // 2,
                            num_layers=num_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if num_layers > 1 else 0.0)
        self.out_dropout = nn.Dropout(dropout)

    @staticmethod
    def lengths(mask: torch.Tensor) -> torch.Tensor:
        """Dialogue lengths [B] of a padding mask, checked to be a prefix mask."""
        mask = mask.bool()
        lengths = mask.sum(1)
        prefix = torch.arange(mask.shape[1], device=mask.device)[None] < lengths[:, None]
        if not torch.equal(prefix, mask):
            raise ValueError('BcLSTMBackbone: the mask must mark each dialogue\'s first n '
                             'positions (padding at the end), as ConversationDataPreprocessor '
                             'makes it')
        if bool((lengths == 0).any()):
            raise ValueError('BcLSTMBackbone: a dialogue of the batch has no utterance')
        return lengths

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        lengths = self.lengths(mask)
        out = self.projection(feats)
        x = torch.cat([out[m] for m in self.modalities], dim=-1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=mask.shape[1])
        out['fused'] = self.out_dropout(y)
        return {k: v[mask] for k, v in out.items()}

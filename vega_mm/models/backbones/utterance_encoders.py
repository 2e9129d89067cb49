"""Baseline backbones of the benchmark: a context-free MLP on each utterance and bc-LSTM.

Both follow the backbone contract of ``docs/internals.md``: ``forward(feats, mask,
speakers)`` returns ``{modality: [B, L, H], 'fused': [B, L, H]}`` and the module has
``hidden_dim``, ``num_speakers`` and ``modalities``, so ``ConversationClassifier`` with a
``LabelHead`` (and ``vega_head=None``) trains, evaluates and checkpoints them unchanged.
Each modality's output is its projected utterance features (no context); only
``'fused'`` differs between the two.
"""
from typing import Dict, Optional, Tuple

import torch
import torch.nn as nn
from mmengine.model import BaseModule
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from vega_mm.structures.meta import MODALITIES
from vega_mm.registry import MODELS
from .sdt import check_modality_inputs


@MODELS.register_module()
class ModalityProjection(BaseModule):
    """Per-modality ``Linear(D_m, H) -> GELU -> Dropout`` with the input checks every
    baseline backbone needs.

    Args:
        name: the owning backbone's class name (for error messages).
        input_dims: feature dimension per modality; its keys name the modalities.
        hidden_dim: H.
        dropout: dropout after the projection.
    """

    def __init__(self, name: str, input_dims: Dict[str, int], hidden_dim: int,
                 dropout: float) -> None:
        super().__init__()
        unknown = set(input_dims) - set(MODALITIES)
        if not input_dims or unknown:
            raise ValueError(f'{name}.input_dims must name modalities among {MODALITIES}, '
                             f'got {dict(input_dims)}')
        self.name = name
        self.modalities: Tuple[str, ...] = tuple(m for m in MODALITIES if m in input_dims)
        self.input_dims = {m: int(input_dims[m]) for m in self.modalities}
        self.proj = nn.ModuleDict({
            m: nn.Sequential(nn.Linear(self.input_dims[m], hidden_dim), nn.GELU(),
                             nn.Dropout(dropout))
            for m in self.modalities
        })

    def forward(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``{modality: [B, L, D_m]}`` -> ``{modality: [B, L, H]}``."""
        check_modality_inputs(self.name, self.input_dims, feats)
        return {m: self.proj[m](feats[m]) for m in self.modalities}


@MODELS.register_module()
class UtteranceMLPBackbone(BaseModule):
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

    Forward:
        feats: dict modality -> [B, L, D_m]; mask: [B, L] bool (True = real
        utterance); speakers: [B, L] long (ignored).

    Returns:
        dict with one [B, L, H] tensor per modality and ``'fused'``; padded positions
        are 0.
    """

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: int = 128,
                 dropout: float = 0.1,
                 num_speakers: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.projection = ModalityProjection(type(self).__name__, input_dims, hidden_dim,
                                             dropout)
        self.modalities = self.projection.modalities
        self.hidden_dim = hidden_dim
        self.num_speakers = num_speakers
        self.fuse = nn.Sequential(
            nn.Linear(len(self.modalities) * hidden_dim, hidden_dim), nn.GELU(),
            nn.Dropout(dropout))

    def forward(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
                speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        out = self.projection(feats)
        out['fused'] = self.fuse(torch.cat([out[m] for m in self.modalities], dim=-1))
        keep = mask.bool()[..., None]
        return {k: v * keep for k, v in out.items()}


@MODELS.register_module()
class BcLSTMBackbone(BaseModule):
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
        num_speakers: recorded for the data preprocessor (speakers are not used, as in
            bc-LSTM).
        init_cfg: initialisation config.

    Forward:
        feats: dict modality -> [B, L, D_m]; mask: [B, L] bool, True on each dialogue's
        first n_b positions; speakers: [B, L] long (ignored).

    Returns:
        dict with one [B, L, H] tensor per modality and ``'fused'``; padded positions
        are 0.
    """

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: int = 128,
                 num_layers: int = 1,
                 dropout: float = 0.1,
                 num_speakers: int = 2,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if hidden_dim % 2:
            raise ValueError(f'BcLSTMBackbone.hidden_dim must be even (H/2 units per '
                             f'direction), got {hidden_dim}')
        self.projection = ModalityProjection(type(self).__name__, input_dims, hidden_dim,
                                             dropout)
        self.modalities = self.projection.modalities
        self.hidden_dim = hidden_dim
        self.num_speakers = num_speakers
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

    def forward(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
                speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        lengths = self.lengths(mask)
        out = self.projection(feats)
        x = torch.cat([out[m] for m in self.modalities], dim=-1)
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True,
                                      enforce_sorted=False)
        y, _ = self.lstm(packed)
        y, _ = pad_packed_sequence(y, batch_first=True, total_length=mask.shape[1])
        out['fused'] = self.out_dropout(y)
        keep = mask.bool()[..., None]
        return {k: v * keep for k, v in out.items()}

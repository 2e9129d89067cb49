"""SDT's cross-modal transformer with gated fusion: the backbone of VEGA's conversation
model (it reads utterance features, not raw media).

The backbone of the VEGA paper (Hu, Kollias, Yang, ACM MM 2025) and of SDT (Ma et al.,
IEEE TMM 2023); docs/method.md says where each part lives: per-modality input
projection, speaker and sinusoidal position embeddings, one transformer per (target,
source) modality pair, unimodal gates, per-modality reduction and multimodal gated
fusion.  :class:`SDTBackbone` is the reference implementation, one module per pair;
:class:`~.sdt_fused.FusedSDTBackbone` computes the same maths with the pairs' weights
stacked (:class:`~.sdt_fused.SDTWeightLayout` converts between the two layouts).
"""
import math
from typing import Dict, List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.registry import MODELS
from .base import ConversationBackbone


@MODELS.register_module()
class SinusoidalPositionalEncoding(nn.Module):
    """Fixed sine/cosine position table; ``forward`` returns ``pe[:L]`` as [1, L, H]."""

    def __init__(self, dim: int, max_len: int = 512) -> None:
        super().__init__()
        position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
        div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
        pe = torch.zeros(max_len, dim)
        pe[:, 0::2] = torch.sin(position * div)
        pe[:, 1::2] = torch.cos(position * div[:dim // 2])
        self.max_len = max_len
        self.register_buffer('pe', pe.unsqueeze(0), persistent=False)

    def forward(self, length: int) -> torch.Tensor:
        if length > self.max_len:
            raise ValueError(f'dialogue of {length} utterances exceeds the positional '
                             f'encoding length max_len={self.max_len}; raise backbone.max_len')
        return self.pe[:, :length]


@MODELS.register_module()
class MaskedMultiHeadAttention(nn.Module):
    """Multi-head attention with an additive score bias: hidden keys (padding, and
    keys outside :class:`SDTBackbone`'s ``attention_window``) get -1e4, as in SDT."""

    def __init__(self, dim: int, num_heads: int, dropout: float) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f'hidden_dim={dim} is not divisible by num_heads={num_heads}')
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q_proj = nn.Linear(dim, dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)
        self.dropout = dropout

    def forward(self, query: torch.Tensor, source: torch.Tensor,
                attn_bias: torch.Tensor) -> torch.Tensor:
        """query [B, L, H], source [B, L, H], attn_bias broadcastable to [B, heads, L, L]
        (see :meth:`SDTBackbone.attention_bias`)."""
        b, lq, h = query.shape
        ls = source.shape[1]

        def split(x: torch.Tensor, length: int) -> torch.Tensor:
            return x.view(b, length, self.num_heads, self.head_dim).transpose(1, 2)

        q = split(self.q_proj(query), lq)
        k = split(self.k_proj(source), ls)
        v = split(self.v_proj(source), ls)
        ctx = F.scaled_dot_product_attention(
            q, k, v, attn_mask=attn_bias.to(q.dtype),
            dropout_p=self.dropout if self.training else 0.0)
        return self.out_proj(ctx.transpose(1, 2).reshape(b, lq, h))


@MODELS.register_module()
class CrossModalLayer(nn.Module):
    """One transformer layer: attention with residual, then pre-LN feed-forward."""

    def __init__(self, dim: int, num_heads: int, ff_dim: int, dropout: float,
                 pre_norm_query: bool) -> None:
        super().__init__()
        self.attn = MaskedMultiHeadAttention(dim, num_heads, dropout)
        # Layers after the first normalise their query input (SDT).
        self.query_norm = nn.LayerNorm(dim, eps=1e-6) if pre_norm_query else nn.Identity()
        self.ff_norm = nn.LayerNorm(dim, eps=1e-6)
        self.ff1 = nn.Linear(dim, ff_dim)
        self.ff2 = nn.Linear(ff_dim, dim)
        self.dropout = nn.Dropout(dropout)

    def forward(self, target: torch.Tensor, source: Optional[torch.Tensor],
                attn_bias: torch.Tensor) -> torch.Tensor:
        target = self.query_norm(target)
        source = target if source is None else source
        y = self.dropout(self.attn(target, source, attn_bias)) + target
        # The published code uses the tanh approximation of GELU here (the classifier
        # MLPs use the exact one).
        ff = self.ff2(self.dropout(F.gelu(self.ff1(self.ff_norm(y)), approximate='tanh')))
        return y + self.dropout(ff)


@MODELS.register_module()
class CrossModalTransformer(nn.Module):
    """Stack of :class:`CrossModalLayer`; ``source=None`` means self-attention."""

    def __init__(self, dim: int, num_heads: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            CrossModalLayer(dim, num_heads, dim, dropout, pre_norm_query=i > 0)
            for i in range(num_layers))

    def forward(self, target: torch.Tensor, source: Optional[torch.Tensor],
                attn_bias: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            target = layer(target, source, attn_bias)
        return target


def attention_bias(key_padding: torch.Tensor, attention_window: Optional[int] = None,
                   causal: bool = False) -> torch.Tensor:
    """Additive attention score bias for a batch, built once and shared by every
    transformer: -1e4 for padded keys ([B, 1, 1, L]) and, with ``attention_window``,
    for keys more than that many positions from the query ([B, 1, L, L]); with
    ``causal``, for keys after the query."""
    hidden = key_padding[:, None, None, :]
    if attention_window is not None:
        pos = torch.arange(key_padding.shape[1], device=key_padding.device)
        hidden = hidden | ((pos[None, :] - pos[:, None]).abs() > attention_window)
    if causal:
        pos = torch.arange(key_padding.shape[1], device=key_padding.device)
        hidden = hidden | (pos[None, :] > pos[:, None])
    return torch.zeros(hidden.shape, device=hidden.device).masked_fill(hidden, -1e4)


def sdt_pairs(modalities: Sequence[str]) -> List[Tuple[str, str]]:
    """The (target, source) pairs of SDT, targets in order, each with its sources
    itself first, then the others in canonical order (t: [t, a, v]; a: [a, t, v])."""
    return [(t, s) for t in modalities for s in [t] + [m for m in modalities if m != t]]


@MODELS.register_module()
class SDTBackbone(ConversationBackbone):
    """Cross-modal transformer of SDT/VEGA over the utterances of each dialogue.

    Args:
        input_dims: feature dimension per modality, e.g. ``dict(text=1024, audio=1582,
            visual=342)``.  Its keys name the modalities the model uses (any non-empty
            subset of ``text``, ``audio``, ``visual``).
        hidden_dim: H.
        num_heads: attention heads.
        num_layers: layers per transformer.
        dropout: backbone dropout.
        max_len: longest dialogue the positional encoding covers.
        attention_window: ``None`` (the paper: every utterance attends to the whole
            dialogue) or k >= 0: each utterance attends only to utterances at most k
            positions away.  Not in the paper; 0 removes the dialogue context (each
            utterance attends only to itself), an ablation of what context adds.
        causal: each utterance attends only to itself and earlier utterances, in every
            self- and cross-modal transformer (not in the paper: the live mode, where an
            utterance is labelled before the conversation goes on).  Combines with
            ``attention_window`` (then only the k previous utterances).
        **kwargs: :class:`ConversationBackbone`'s ``num_speakers`` (2; index
            ``num_speakers`` is padding) and ``init_cfg``.

    Forward and returns: the backbone contract (:mod:`vega_mm.models.backbones.base`):
    padded features, mask and speakers in; ``{modality: [N, H], 'fused': [N, H]}`` for
    the N real utterances out.
    """

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: int = 768,
                 num_heads: int = 4,
                 num_layers: int = 1,
                 dropout: float = 0.53,
                 max_len: int = 512,
                 attention_window: Optional[int] = None,
                 causal: bool = False,
                 **kwargs) -> None:
        super().__init__(input_dims, hidden_dim, max_len=max_len, causal=causal, **kwargs)
        if attention_window is not None and (isinstance(attention_window, bool)
                                             or int(attention_window) != attention_window
                                             or attention_window < 0):
            raise ValueError(f'SDTBackbone.attention_window must be None or an integer >= 0, '
                             f'got {attention_window!r}')
        self.input_proj = nn.ModuleDict({
            m: nn.Conv1d(self.input_dims[m], hidden_dim, kernel_size=1, bias=False)
            for m in self.modalities
        })
        self.speaker_embedding = nn.Embedding(
            self.num_speakers + 1, hidden_dim, padding_idx=self.num_speakers)
        self.position = SinusoidalPositionalEncoding(hidden_dim, max_len)
        self.embed_dropout = nn.Dropout(dropout)
        self.pairs = sdt_pairs(self.modalities)
        self.transformers = nn.ModuleDict({
            f'{t}_{s}': CrossModalTransformer(hidden_dim, num_heads, num_layers, dropout)
            for t, s in self.pairs
        })
        self.unimodal_gates = nn.ModuleDict({
            f'{t}_{s}': nn.Linear(hidden_dim, hidden_dim, bias=False) for t, s in self.pairs
        })
        n = len(self.modalities)
        self.reduce = nn.ModuleDict(
            {m: nn.Linear(n * hidden_dim, hidden_dim) for m in self.modalities})
        self.fusion_gate = nn.Linear(hidden_dim, hidden_dim, bias=False)
        self.attention_window = attention_window

    def attention_bias(self, key_padding: torch.Tensor) -> torch.Tensor:
        """This backbone's :func:`attention_bias` for a batch's padding [B, L]."""
        return attention_bias(key_padding, self.attention_window, self.causal)

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        key_padding = ~mask
        length = mask.shape[1]
        # Padded positions take the speaker padding index.
        speakers = speakers.masked_fill(key_padding, self.num_speakers)
        context = self.position(length) + self.speaker_embedding(speakers)
        embedded = {}
        for m in self.modalities:
            x = self.input_proj[m](feats[m].transpose(1, 2)).transpose(1, 2)
            embedded[m] = x + context
        attn_bias = self.attention_bias(key_padding)
        reduced = {}
        for t in self.modalities:
            gated = []
            for s in [src for tgt, src in self.pairs if tgt == t]:
                key = f'{t}_{s}'
                # Each transformer draws its own dropout on its inputs (as in SDT).
                target = self.embed_dropout(embedded[t])
                source = None if s == t else self.embed_dropout(embedded[s])
                y = self.transformers[key](target, source, attn_bias)
                gated.append(y * torch.sigmoid(self.unimodal_gates[key](y)))
            reduced[t] = self.reduce[t](torch.cat(gated, dim=-1))
        stacked = torch.stack([reduced[m] for m in self.modalities], dim=-2)  # [B,L,M,H]
        weights = torch.softmax(self.fusion_gate(stacked), dim=-2)
        out = dict(reduced)
        out['fused'] = (weights * stacked).sum(dim=-2)
        return {k: v[mask] for k, v in out.items()}

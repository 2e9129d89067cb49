"""MMGCN (Hu et al., ACL 2021) on the backbone contract.

The published model (hujingwen6666/MMGCN, ``graph_type='MMGCN'`` with the command of its
``run.sh``), step by step:

1. per modality: text through ``Linear(D_t, 200)`` and a 2-layer bidirectional LSTM
   (D_e units per direction); audio and visual through ``Linear(D_m, 2 D_e)`` (no
   context); a speaker embedding is added to the text features (``--use_speaker``);
2. one graph over the batch with a node per (utterance, modality): within a modality,
   every pair of utterances of a dialogue (self-loops included); across modalities, the
   nodes of the same utterance; every edge weighted by the angular similarity
   ``1 - arccos(0.99999 cos(x_i, x_j)) / pi`` of its nodes' features, the adjacency
   normalised ``D^-1/2 A D^-1/2``;
3. a deep GCNII over it (64 layers: the published ``MM_GCN`` is built with
   ``nlayers=64`` whatever ``--Deep_GCN_nlayers`` says), variant form, ``alpha=0.1``,
   ``lambda=0.5``: ``x = dropout(x)``; ``h_0 = ReLU(fc(x))``;
   ``h_l = ReLU(theta_l [A h; h_0] W_l + (1 - theta_l)((1 - alpha) A h + alpha h_0))``
   with dropout before every layer and ``theta_l = log(lambda / l + 1)``;
4. each node's feature ``[x; dropout(h_L)]`` (``use_residue``); an utterance's
   feature concatenates its modalities' nodes; the classifier is
   ``Linear(ReLU(dropout(.)))``.

Outputs on the backbone contract (``hidden_dim`` = M (2 D_e + graph_hidden), 900 for
three modalities at the defaults): ``'fused'`` is ``ReLU`` of step 4's concatenation, on
which :class:`~vega_mm.models.heads.LinearLabelHead` (dropout, linear) is the published
classifier (dropout and ReLU commute); each modality's output is its own slice of that
concatenation with the other slices zero, so a linear classifier on it is that
modality's share of the published logits, and VEGA's per-modality branches read the
modality's graph nodes.

Differences from the published code, deliberately (docs/model_zoo.md): the text LSTM
runs on packed sequences (the published one runs on the zero-padded batch); the graph
is built as an edge list normalised by PyTorch Geometric's ``gcn_norm`` and propagated
as one dense block per dialogue (the published code: one dense [3N, 3N] matrix over the
whole batch, the same products plus the zeros between dialogues); the modalities are
concatenated in vega_mm's order (text, audio, visual; published: audio, visual, text);
one or two modalities are accepted.
The published ``MM_GCN`` also creates layers its forward never uses (``a_fc``,
``v_fc``, ``l_fc``, ``feature_fc``, ``final_fc``, modality and per-modality speaker
embeddings); they are not created here.
"""
import math
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from vega_mm.registry import MODELS
from .base import ConversationBackbone
from .graph_utils import (derived_hidden_dim, modality_slots, node_index, packed_lstm,
                          prefix_lengths, window_pairs)

__all__ = ['GCNIIVariantLayer', 'MMGCNBackbone']


class GCNIIVariantLayer(nn.Module):
    """One GCNII* layer with MMGCN's parametrisation:
    ``theta [A h; h_0] W + (1 - theta)((1 - alpha) A h + alpha h_0)``.

    PyTorch Geometric's ``GCN2Conv(shared_weights=False)`` computes this function with
    its two weights scaled by ``1 - alpha`` and ``alpha``, which changes how the weights
    train (alpha = 0.1 makes the initial-residual weight's steps 10 times larger), so
    the product is written here.

    Args:
        channels: H, the width in and out.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(2 * channels, channels))
        # the published initialisation: U(-1/sqrt(H), 1/sqrt(H))
        bound = 1.0 / math.sqrt(channels)
        nn.init.uniform_(self.weight, -bound, bound)

    def forward(self, ah: torch.Tensor, h0: torch.Tensor, theta: float,
                alpha: float) -> torch.Tensor:
        """``ah`` = A h [..., H], ``h0`` [..., H] -> [..., H] (before the activation)."""
        support = torch.cat([ah, h0], dim=-1)
        residual = (1 - alpha) * ah + alpha * h0
        return theta * (support @ self.weight) + (1 - theta) * residual


@MODELS.register_module()
class MMGCNBackbone(ConversationBackbone):
    """MMGCN (see the module docstring) on the backbone contract.

    Args:
        input_dims: feature dimension per modality (one, two or three modalities).
        hidden_dim: M (2 D_e + graph_hidden); None derives it (a different value is an
            error naming both).
        context_dim: D_e (100).
        graph_hidden: the GCNII width (100).
        text_proj_dim: the text projection before its LSTM (200).
        num_layers: GCNII layers (64, as the published model is built).
        alpha, lamda: GCNII's initial residual and identity-mapping strengths (0.1, 0.5).
        dropout: the GCNII dropout and between LSTM layers (``--dropout 0.4``).
        use_speaker: add a speaker embedding to the text features (True).
        **kwargs: :class:`ConversationBackbone`'s ``num_speakers`` (S, 2; the
            published code: 2 for IEMOCAP, 9 for MELD), ``max_len`` (None: no limit),
            ``causal`` (refused: :attr:`non_causal_reason`) and ``init_cfg``.
    """

    non_causal_reason = ("its text LSTM is bidirectional and its graph joins every pair of "
                         "a dialogue's utterances")

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: Optional[int] = None,
                 context_dim: int = 100,
                 graph_hidden: int = 100,
                 text_proj_dim: int = 200,
                 num_layers: int = 64,
                 alpha: float = 0.1,
                 lamda: float = 0.5,
                 dropout: float = 0.4,
                 use_speaker: bool = True,
                 **kwargs) -> None:
        node_dim = 2 * context_dim
        slot = node_dim + graph_hidden
        hidden_dim = derived_hidden_dim('MMGCNBackbone', hidden_dim, input_dims, slot,
                                        '(2 context_dim + graph_hidden)',
                                        'context_dim / graph_hidden')
        super().__init__(input_dims, hidden_dim, **kwargs)
        if not isinstance(num_layers, int) or num_layers < 1:
            raise ValueError(f'MMGCNBackbone.num_layers must be a positive integer, got '
                             f'{num_layers!r}')
        self.slot_dim = slot
        self.num_layers, self.alpha, self.lamda = num_layers, alpha, lamda
        self.dropout = dropout
        self.use_speaker = bool(use_speaker)
        self.proj = nn.ModuleDict()
        for m in self.modalities:
            out = text_proj_dim if m == 'text' else node_dim
            self.proj[m] = nn.Linear(self.input_dims[m], out)
        if 'text' in self.modalities:
            self.text_lstm = nn.LSTM(text_proj_dim, context_dim, num_layers=2,
                                     bidirectional=True, batch_first=True, dropout=dropout)
            if self.use_speaker:
                self.speaker_embedding = nn.Embedding(self.num_speakers, node_dim)
        self.input_fc = nn.Linear(node_dim, graph_hidden)
        self.convs = nn.ModuleList(GCNIIVariantLayer(graph_hidden) for _ in range(num_layers))

    def node_features(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
                      speakers: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Step 1: [M, N, 2 D_e], the modalities' node features of the real utterances."""
        out = []
        for m in self.modalities:
            x = self.proj[m](feats[m])
            if m == 'text':
                x = packed_lstm(self.text_lstm, x, lengths)
            x = x[mask]
            if m == 'text' and self.use_speaker:
                x = x + self.speaker_embedding(speakers[mask])
            out.append(x)
        return torch.stack(out)

    def build_graph(self, x: torch.Tensor, mask: torch.Tensor):
        """Step 2 on node features ``x`` [M, N, D] (modality-major nodes m N + n).

        Returns:
            ``edge_index`` [2, E] and the normalised ``edge_weight`` [E].
        """
        M, N = x.shape[:2]
        b, i, j = window_pairs(mask, -1, -1)
        node = node_index(mask)
        src, dst = node[b, i], node[b, j]
        unit = F.normalize(x, dim=-1)
        edges, weights = [], []
        for m in range(M):
            cos = (unit[m, src] * unit[m, dst]).sum(-1)
            edges.append(torch.stack([src + m * N, dst + m * N]))
            weights.append(cos)
            for n in range(M):
                if n != m:
                    idx = torch.arange(N, device=x.device)
                    edges.append(torch.stack([idx + m * N, idx + n * N]))
                    weights.append((unit[m] * unit[n]).sum(-1))
        edge_index = torch.cat(edges, dim=1)
        weight = 1 - torch.acos(torch.cat(weights) * 0.99999) / math.pi
        edge_index, weight = gcn_norm(edge_index, weight, M * N, add_self_loops=False)
        return edge_index, weight

    def dialogue_blocks(self, edge_index: torch.Tensor, edge_weight: torch.Tensor,
                        mask: torch.Tensor, M: int):
        """The normalised adjacency as one dense [M L, M L] block per dialogue (padded
        nodes have no edge), and where each node (m N + n) sits in it.

        Returns:
            ``adj`` [B, M L, M L] (rows: targets), ``node_b`` and ``node_slot`` [M N].
        """
        B, L = mask.shape
        b_of, pos_of = mask.nonzero(as_tuple=True)
        N = b_of.shape[0]
        node_b = b_of.repeat(M)
        node_slot = torch.arange(M, device=mask.device).repeat_interleave(N) * L + \
            pos_of.repeat(M)
        adj = edge_weight.new_zeros(B, M * L, M * L)
        src, dst = edge_index
        adj = adj.index_put((node_b[dst], node_slot[dst], node_slot[src]), edge_weight)
        return adj, node_b, node_slot

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        lengths = prefix_lengths('MMGCNBackbone', mask)
        x = self.node_features(feats, mask, speakers, lengths)              # [M, N, D]
        M, N, D = x.shape
        edge_index, edge_weight = self.build_graph(x, mask)
        # each dialogue's graph as a dense block: one batched product per layer (the
        # published code multiplies one dense [M N, M N] matrix of the whole batch)
        adj, node_b, node_slot = self.dialogue_blocks(edge_index, edge_weight, mask, M)
        x = F.dropout(x.reshape(M * N, D), self.dropout, self.training)
        h0 = torch.relu(self.input_fc(x))                                     # [M N, G]
        h = h0
        padded = h0.new_zeros(mask.shape[0], M * mask.shape[1], h0.shape[-1])
        for layer, conv in enumerate(self.convs, start=1):
            h = F.dropout(h, self.dropout, self.training)
            # node rows -> dialogue blocks -> A h -> node rows (padded slots stay 0)
            ah = (adj @ padded.index_put((node_b, node_slot), h))[node_b, node_slot]
            theta = math.log(self.lamda / layer + 1)
            h = torch.relu(conv(ah, h0, theta, self.alpha))
        h = F.dropout(h, self.dropout, self.training)
        nodes = torch.cat([x, h], dim=-1).view(M, N, self.slot_dim)
        fused = torch.relu(torch.cat(list(nodes), dim=-1))                 # [N, M slot]
        # each modality's branch: its slice of the fused feature, the other slices zero
        return modality_slots(fused, self.modalities, self.slot_dim)

"""DialogueGCN (Ghosal et al., EMNLP 2019) on the backbone contract.

The published model (the ``DialogueGCN`` folder of declare-lab/conv-emotion, its
``train_IEMOCAP.py`` command in that repository's README), step by step:

1. sequential context: a 2-layer bidirectional LSTM (D_e units per direction) over the
   dialogue's utterance features (the modalities concatenated; the published runs use
   the text features);
2. a graph per dialogue: an edge (i, j) for every pair with ``-window_past <= j - i <=
   window_future`` (self-loops included), of relation type (speaker of i, speaker of j,
   i < j), 2 S^2 relations; its weight is the softmax over i's edges of
   ``w_i . g_j`` (``w_i`` the i-th row of a linear map, one per position, Eq. 1);
3. speaker-level context: an RGCN layer (basis decomposition, 30 bases, weighted sum
   aggregation, root weight) then a GraphConv layer, both from PyTorch Geometric;
4. nodal attention (Eq. 4-6): each node attends over its dialogue's nodes
   ``[g; h]`` with ``softmax_j(tanh((W q_i) . q_j))``; then ``ReLU(Linear(.))``.

The backbone's ``'fused'`` output is step 4's ``ReLU(Linear(.))`` (width
``hidden_dim``, the published graph hidden size 100); the published classifier on top
(dropout, then a linear layer) is :class:`~vega_mm.models.heads.LinearLabelHead`.
DialogueGCN fuses the modalities at its input, so it has no per-modality features:
every modality key carries the fused feature (configs give those branches weight 0).

Differences from the published code, deliberately (docs/model_zoo.md):
the LSTM runs on packed sequences (the published one runs on the zero-padded batch,
so a dialogue's backward direction starts from the padding of longer dialogues);
the edge softmax is taken over the edges only (the published one leaves the non-edges
a weight of 1e-10 of their attention, padding included).
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
from torch_geometric.nn import GraphConv, RGCNConv
from torch_geometric.utils import softmax as edge_softmax

from vega_mm.registry import MODELS
from .base import ConversationBackbone
from .graph_utils import node_index, packed_lstm, prefix_lengths, window_pairs

__all__ = ['WeightedRGCNConv', 'DialogueGCNBackbone']


class WeightedRGCNConv(RGCNConv):
    """PyTorch Geometric's :class:`~torch_geometric.nn.RGCNConv` (its parameters,
    initialisation and basis decomposition) with one weight per edge and sum
    aggregation, DialogueGCN's layer:
    ``h_i = W_0 x_i + b + sum_r sum_{j -> i of type r} e_ji W_r x_j``.

    ``RGCNConv`` of PyG 2.x has no edge weight; its PyG 1.x ancestor, which the
    published code used, multiplied each message by ``edge_norm``.  The messages are
    looked up in a table of every relation's transform of every node, so each edge
    costs a gather instead of a [D_in, D_out] product.

    Args:
        in_channels, out_channels, num_relations, num_bases: as in ``RGCNConv``.
    """

    def __init__(self, in_channels: int, out_channels: int, num_relations: int,
                 num_bases: Optional[int] = None) -> None:
        super().__init__(in_channels, out_channels, num_relations, num_bases=num_bases,
                         aggr='add')

    def relation_weights(self) -> torch.Tensor:
        """[R, D_in, D_out]: each relation's weight (from the bases when decomposed)."""
        if self.num_bases is None:
            return self.weight
        return (self.comp @ self.weight.view(self.num_bases, -1)).view(
            self.num_relations, self.in_channels_l, self.out_channels)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,  # type: ignore[override]
                edge_type: torch.Tensor, edge_weight: torch.Tensor) -> torch.Tensor:
        """``x`` [N, D_in], ``edge_index`` [2, E] (source, target), ``edge_type`` [E],
        ``edge_weight`` [E] -> [N, D_out]."""
        n = x.shape[0]
        if self.num_bases is not None and self.num_bases < self.num_relations:
            # through the bases: N x bases products instead of N x relations
            per_basis = torch.einsum('ni,bio->bno', x, self.weight)
            table = torch.einsum('rb,bno->rno', self.comp, per_basis)
        else:
            table = torch.einsum('ni,rio->rno', x, self.relation_weights())
        table = table.reshape(self.num_relations * n, self.out_channels)
        src = edge_type * n + edge_index[0]
        # (PyG builds this class's propagate from the comment below)
        # propagate_type: (x: Tuple[Tensor, Tensor], edge_weight: Tensor)
        out = self.propagate(torch.stack([src, edge_index[1]]), x=(table, x),
                             edge_weight=edge_weight, size=(table.shape[0], n))
        if self.root is not None:
            out = out + x @ self.root
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_j: torch.Tensor,  # type: ignore[override]
                edge_weight: torch.Tensor) -> torch.Tensor:
        return edge_weight.view(-1, 1) * x_j


@MODELS.register_module()
class DialogueGCNBackbone(ConversationBackbone):
    """DialogueGCN (see the module docstring) on the backbone contract.

    Args:
        input_dims: feature dimension per modality (concatenated at the input).
        hidden_dim: H, the graph hidden size and the width of every output (100).
        context_dim: D_e, LSTM units per direction (100).
        max_len: the longest dialogue: the edge attention has one row per position
            (published: 110).
        window_past, window_future: edge window (10, 10; -1: the whole dialogue).
        num_bases: RGCN bases (30; None: one full weight per relation).
        nodal_attention: Eq. 4-6 (True in the published command).
        dropout: between the LSTM layers (published ``--dropout 0.4``; the same
            value is the head's dropout).
        **kwargs: :class:`ConversationBackbone`'s ``num_speakers`` (S, 2; 2 S^2
            relation types), ``causal`` (refused: :attr:`non_causal_reason`) and
            ``init_cfg``.

    Forward and returns: the backbone contract; every modality key carries the fused
    feature.
    """

    non_causal_reason = ('its bidirectional LSTM, future edge window and nodal attention '
                         'read later utterances')

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: int = 100,
                 context_dim: int = 100,
                 max_len: int = 110,
                 window_past: int = 10,
                 window_future: int = 10,
                 num_bases: Optional[int] = 30,
                 nodal_attention: bool = True,
                 dropout: float = 0.4,
                 **kwargs) -> None:
        if max_len is None:
            raise ValueError('DialogueGCNBackbone.max_len must be set: the edge attention '
                             'has one weight row per position (published: 110)')
        super().__init__(input_dims, hidden_dim, max_len=max_len, **kwargs)
        for name, w in (('window_past', window_past), ('window_future', window_future)):
            if isinstance(w, bool) or not isinstance(w, int) or w < -1:
                raise ValueError(f'DialogueGCNBackbone.{name} must be an integer >= 0, '
                                 f'or -1 for the whole dialogue, got {w!r}')
        self.window_past, self.window_future = window_past, window_future
        self.nodal_attention = bool(nodal_attention)
        in_dim = sum(self.input_dims.values())
        node_dim = 2 * context_dim
        self.context = nn.LSTM(in_dim, context_dim, num_layers=2, bidirectional=True,
                               batch_first=True, dropout=dropout)
        # one attention row per position i: the weight of edge (i, j) is
        # softmax over i's edges of w_i . g_j (the published `scalar`)
        self.edge_attention = nn.Linear(node_dim, max_len, bias=False)
        self.num_relations = 2 * self.num_speakers ** 2
        self.rgcn = WeightedRGCNConv(node_dim, hidden_dim, self.num_relations,
                                     num_bases=num_bases)
        self.gconv = GraphConv(hidden_dim, hidden_dim)
        feat_dim = node_dim + hidden_dim
        # nodal attention ("general2" matching attention of the published code)
        self.node_attention = nn.Linear(feat_dim, feat_dim)
        self.linear = nn.Linear(feat_dim, hidden_dim)

    def build_graph(self, g: torch.Tensor, mask: torch.Tensor, speakers: torch.Tensor):
        """The batch's graph (module docstring, step 2).

        Args:
            g: [B, L, 2 D_e] the context features; mask [B, L]; speakers [B, L].

        Returns:
            ``edge_index`` [2, E] (source i, target j as output rows), ``edge_type`` [E],
            ``edge_weight`` [E].
        """
        b, i, j = window_pairs(mask, self.window_past, self.window_future)
        node = node_index(mask)
        src, dst = node[b, i], node[b, j]
        s_i, s_j = speakers[b, i], speakers[b, j]
        # published mapping: (speaker_i, speaker_j, 0 if i < j else 1) in that order
        edge_type = (s_i * self.num_speakers + s_j) * 2 + (i >= j).long()
        # scores[b, j, i] = w_i . g_j, normalised over the edges leaving i
        scores = self.edge_attention(g)
        logits = scores[b, j, i]
        edge_weight = edge_softmax(logits, src, num_nodes=int(mask.sum()))
        return torch.stack([src, dst]), edge_type, edge_weight

    def attend(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Nodal attention over each dialogue: [B, L, F] -> [B, L, F] (Eq. 4-6)."""
        x = x * mask[..., None]
        scores = torch.tanh(self.node_attention(x) @ x.transpose(1, 2))    # [B, q, k]
        scores = scores.masked_fill(~mask[:, None, :], float('-inf'))
        return torch.softmax(scores, dim=-1) @ x

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        lengths = prefix_lengths('DialogueGCNBackbone', mask)
        x = torch.cat([feats[m] for m in self.modalities], dim=-1)
        g = packed_lstm(self.context, x, lengths)                       # [B, L, 2 D_e]
        edge_index, edge_type, edge_weight = self.build_graph(g, mask, speakers)
        nodes = g[mask]
        h = self.rgcn(nodes, edge_index, edge_type, edge_weight)
        h = self.gconv(h, edge_index)
        feat = torch.cat([nodes, h], dim=-1)                              # [N, F]
        if self.nodal_attention:
            padded = feat.new_zeros(*mask.shape, feat.shape[-1])
            padded[mask] = feat
            feat = self.attend(padded, mask)[mask]
        fused = torch.relu(self.linear(feat))
        out = {m: fused for m in self.modalities}
        out['fused'] = fused
        return out

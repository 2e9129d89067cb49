"""M3Net (Chen et al., CVPR 2023) on the backbone contract.

The published model (feiyuchen7/M3NET, ``Model`` with ``--graph_type hyper
--mm_fusion_mthd concat_DHT --base-model GRU --norm BN --modals avl`` as its README's
commands train it), step by step:

1. text: a ``BatchNorm1d`` over the text features, ``Linear(D_t, D_g)`` (skipped on
   MELD, whose 1024-d text already has width ``D_g``) and a 2-layer bidirectional GRU
   (``D_g / 2`` units per direction, dropout between its layers); audio and visual:
   ``Linear(D_m, D_g)`` (no context); a speaker embedding is added to the text nodes;
2. ``fc1: Linear(D_g, H)`` on every node (one per utterance and modality);
3. the *multivariate* branch: ``num_L`` hypergraph convolutions over hyperedges that
   join, per dialogue, all nodes of one modality (one hyperedge per modality) and the
   modalities' nodes of one utterance (one hyperedge per utterance);
4. the *multi-frequency* branch: ``num_K`` residual gated convolutions
   ``h <- h + sum_j tanh(g [h_i; h_j] + b) h_j / sqrt(d_i d_j)`` over a graph that joins
   every two nodes of a modality within a dialogue and the modalities of an utterance;
5. each node's ``[hyper; gated]`` (``2 H``); an utterance concatenates its modalities'
   nodes; the classifier is ``Linear(ReLU(dropout(.)))``.

The hypergraph convolution is PyTorch Geometric's :class:`HypergraphConv` with M3Net's
three changes, written on top of it in :class:`M3NetHypergraphConv`; the gated
convolution is PyG's :class:`FAConv` (FAGCN) with the bias M3Net's gate adds
(:class:`M3NetGatedConv`).

Outputs on the backbone contract (``hidden_dim`` = M * 2 H, 3072 for three modalities
at the defaults): ``'fused'`` is ``ReLU`` of step 5's concatenation, on which
:class:`~vega_mm.models.heads.LinearLabelHead` (dropout, linear) is the published
classifier (dropout and ReLU commute); each modality's output is its own slice of that
concatenation with the other slices zero (its share of the published logits), so
VEGA's per-modality branches read that modality's nodes.

The published model learns one hyperedge weight per hyperedge *position in the batch*
(``hyperedge_weight``, 1000 of them) and one node weight per node position
(``EW_weight``, 5200); both are kept, numbered as published (per dialogue: the text,
audio, visual nodes; the modality hyperedges, then the utterance ones), and a batch
that needs more is refused with the setting to raise.

Differences from the published code, deliberately (docs/model_zoo.md): the BatchNorm
and the GRU read the real utterances only (the published ones read the padded batch:
its BatchNorm statistics count the zero padding and its backward GRU starts in it);
the text is one feature (the published model averages four RoBERTa layers, each through
its own BatchNorm); the published layers its forward never uses (the LSTM/Transformer
alternatives, ``normLN*``, three of the four ``normBN*`` when one text feature is given,
``modal_embeddings``, ``hyperedge_attr1/2``, each hypergraph layer's ``weight``,
``edgeweight`` and ``edgefc``, ``hidfc``) are not created; one or two modalities are
accepted.
"""
from typing import Dict, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_geometric.nn import FAConv, HypergraphConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm
from torch_geometric.nn.dense.linear import Linear as PyGLinear
from torch_geometric.utils import scatter

from vega_mm.registry import MODELS
from .base import ConversationBackbone
from .graph_utils import (derived_hidden_dim, modality_slots, packed_lstm, prefix_lengths,
                          window_pairs)

__all__ = ['M3NetBackbone', 'M3NetHypergraphConv', 'M3NetGatedConv']

class M3NetHypergraphConv(HypergraphConv):
    """PyTorch Geometric's ``HypergraphConv`` as M3Net modified it.

    PyG computes ``D^-1 H W B^-1 H^T X Theta + b`` with ``B`` the hyperedge sizes. M3Net
    changes three things, done here on top of PyG's layer (its ``propagate`` and
    ``message`` and its bias are used as they are):

    1. no ``Theta`` (the published layer comments the product out: the layer only
       propagates);
    2. ``B_e = sum_{v in e} w_v``, a learned *node* weight per node position (M3Net's
       ``EW_weight``), instead of the hyperedge size;
    3. a ``LeakyReLU`` (slope 0.01) on the output.

    ``D_v = sum_{e ni v} W_e`` with learned hyperedge weights, as PyG.

    Args:
        channels: the width in and out.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, channels, use_attention=False, bias=True)
        self.lin = nn.Identity()   # change 1

    def reset_parameters(self) -> None:
        if isinstance(getattr(self, 'bias', None), nn.Parameter):
            nn.init.zeros_(self.bias)   # the published initialisation

    @staticmethod
    def normalisation(hyperedge_index: torch.Tensor, hyperedge_weight: torch.Tensor,
                      node_weight: torch.Tensor, num_nodes: int, num_edges: int):
        """``(D^-1 [V], B^-1 [num_edges])``: ``D_v = sum_{e ni v} W_e`` (as PyG) and
        change 2's ``B_e = sum_{v in e} w_v``; 0 where a sum is 0. Computed once per batch
        (the published layer recomputes the same values in every layer)."""
        node, edge = hyperedge_index
        D = scatter(hyperedge_weight[edge], node, dim=0, dim_size=num_nodes, reduce='sum')
        D = 1.0 / D
        D[D == float('inf')] = 0
        B = scatter(node_weight[node], edge, dim=0, dim_size=num_edges, reduce='sum')
        B = 1.0 / B
        B[B == float('inf')] = 0
        return D, B

    def forward(self, x: torch.Tensor, hyperedge_index: torch.Tensor,
                node_norm: torch.Tensor, edge_norm: torch.Tensor) -> torch.Tensor:
        """``x`` [V, H]; ``hyperedge_index`` [2, I] (node, hyperedge) incidences;
        ``node_norm``, ``edge_norm``: :meth:`normalisation` -> [V, H]."""
        num_nodes, num_edges = x.size(0), edge_norm.size(0)
        out = self.propagate(hyperedge_index, x=x, norm=edge_norm, alpha=None,
                             size=(num_nodes, num_edges))
        out = self.propagate(hyperedge_index.flip([0]), x=out, norm=node_norm, alpha=None,
                             size=(num_edges, num_nodes))
        out = out.view(-1, self.out_channels) + self.bias
        return F.leaky_relu(out)   # change 3


class M3NetGatedConv(FAConv):
    """M3Net's multi-frequency convolution (``highConv``) as PyG's ``FAConv``:
    ``sum_j tanh(a_r x_i + a_l x_j + b) x_j / sqrt(d_i d_j)``.

    ``FAConv`` (``eps=0``, no self-loops) computes this without ``b``; M3Net's gate is
    ``Linear(2H, 1)``, with a bias, so ``att_l`` gets one (the only change). The
    normalisation is computed once per batch by the caller (``normalize=False``), the
    published ``1/sqrt(d_i d_j)`` over a symmetric graph.

    Args:
        channels: the width in and out.
    """

    def __init__(self, channels: int) -> None:
        super().__init__(channels, eps=0.0, dropout=0.0, add_self_loops=False,
                         normalize=False)
        self.att_l = PyGLinear(channels, 1, bias=True)
        # the published gate's initialisation: nn.Linear(2H, 1), U(+-1/sqrt(2H))
        bound = 1.0 / (2 * channels) ** 0.5
        for p in (self.att_l.weight, self.att_l.bias, self.att_r.weight):
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor,
                edge_weight: torch.Tensor) -> torch.Tensor:
        return super().forward(x, x, edge_index, edge_weight)


@MODELS.register_module()
class M3NetBackbone(ConversationBackbone):
    """M3Net (see the module docstring) on the backbone contract.

    Args:
        input_dims: feature dimension per modality (one, two or three modalities).
        hidden_dim: M * 2 graph_hidden; None derives it (a different value is an error).
        node_dim: D_g, the width of the modality encoders (published: 512 on IEMOCAP,
            1024 on MELD).
        graph_hidden: H, the width of both graph branches (512).
        num_hyper_layers: num_L, hypergraph convolutions (3).
        num_gated_layers: num_K, gated convolutions (4 on IEMOCAP, 3 on MELD).
        dropout: between the GRU layers (published ``--dropout``: 0.5 IEMOCAP, 0.4 MELD).
        text_proj: project the text by ``Linear(D_t, D_g)`` before its GRU (published:
            True on IEMOCAP, False on MELD, where ``D_t`` must equal ``D_g``).
        text_norm: the BatchNorm over the text features (``--norm BN``: True).
        use_speaker: add a speaker embedding to the text nodes (True).
        max_hyperedges: the learned per-position hyperedge weights (1000, as published).
        max_nodes: the learned per-position node weights (5200, as published).
        **kwargs: :class:`ConversationBackbone`'s ``num_speakers`` (S, 2; 2 IEMOCAP,
            9 MELD), ``max_len`` (None: no limit), ``causal`` (refused:
            :attr:`non_causal_reason`) and ``init_cfg``.
    """

    non_causal_reason = ("its text GRU is bidirectional and its graphs join every pair of "
                         "a dialogue's utterances")

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: Optional[int] = None,
                 node_dim: int = 512,
                 graph_hidden: int = 512,
                 num_hyper_layers: int = 3,
                 num_gated_layers: int = 4,
                 dropout: float = 0.5,
                 text_proj: bool = True,
                 text_norm: bool = True,
                 use_speaker: bool = True,
                 max_hyperedges: int = 1000,
                 max_nodes: int = 5200,
                 **kwargs) -> None:
        hidden_dim = derived_hidden_dim('M3NetBackbone', hidden_dim, input_dims,
                                        2 * graph_hidden, '2 graph_hidden', 'graph_hidden')
        super().__init__(input_dims, hidden_dim, **kwargs)
        for name, value in (('node_dim', node_dim), ('graph_hidden', graph_hidden),
                            ('num_hyper_layers', num_hyper_layers),
                            ('num_gated_layers', num_gated_layers),
                            ('max_hyperedges', max_hyperedges), ('max_nodes', max_nodes)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f'M3NetBackbone.{name} must be a positive integer, got '
                                 f'{value!r}')
        if node_dim % 2:
            raise ValueError(f'M3NetBackbone.node_dim must be even (the bidirectional GRU '
                             f'has node_dim / 2 units per direction), got {node_dim}')
        if 'text' in self.modalities and not text_proj and self.input_dims['text'] != node_dim:
            raise ValueError(f'M3NetBackbone: text_proj=False feeds the text features to the '
                             f'GRU directly, so input_dims["text"] '
                             f'({self.input_dims["text"]}) must equal node_dim ({node_dim})')
        self.node_dim, self.graph_hidden, self.dropout = node_dim, graph_hidden, dropout
        self.use_speaker = bool(use_speaker)
        self.slot_dim = 2 * graph_hidden
        self.proj = nn.ModuleDict()
        for m in self.modalities:
            if m != 'text' or text_proj:
                self.proj[m] = nn.Linear(self.input_dims[m], node_dim)
        if 'text' in self.modalities:
            self.text_norm = nn.BatchNorm1d(self.input_dims['text']) if text_norm else None
            gru_in = node_dim if text_proj else self.input_dims['text']
            self.text_gru = nn.GRU(gru_in, node_dim // 2, num_layers=2, bidirectional=True,
                                   batch_first=True, dropout=dropout)
            if self.use_speaker:
                self.speaker_embedding = nn.Embedding(self.num_speakers, node_dim)
        self.fc1 = nn.Linear(node_dim, graph_hidden)
        self.hyperedge_weight = nn.Parameter(torch.ones(max_hyperedges))
        self.node_weight = nn.Parameter(torch.ones(max_nodes))
        self.hyper_convs = nn.ModuleList(
            M3NetHypergraphConv(graph_hidden) for _ in range(num_hyper_layers))
        self.gated_convs = nn.ModuleList(
            M3NetGatedConv(graph_hidden) for _ in range(num_gated_layers))

    # ------------------------------------------------------------------ graphs
    def node_numbers(self, mask: torch.Tensor) -> torch.Tensor:
        """[M, N] long: the node of (modality, real utterance), numbered as published:
        dialogue by dialogue, its text nodes, then its audio, then its visual nodes."""
        M = len(self.modalities)
        lengths = mask.sum(1)
        offsets = torch.cumsum(lengths, 0) - lengths              # utterances before b
        b, t = mask.nonzero(as_tuple=True)
        m = torch.arange(M, device=mask.device)[:, None]
        return M * offsets[b][None] + m * lengths[b][None] + t[None]

    def build_hypergraph(self, mask: torch.Tensor):
        """Step 3's incidences ``[2, I]`` (node, hyperedge) and the number of hyperedges:
        per dialogue, one hyperedge per modality (its nodes of that modality), then one
        per utterance (its modalities' nodes), numbered as published."""
        M = len(self.modalities)
        nodes = self.node_numbers(mask)                          # [M, N]
        lengths = mask.sum(1)
        b, t = mask.nonzero(as_tuple=True)
        first = torch.cumsum(lengths + M, 0) - (lengths + M)     # first hyperedge of b
        modality_edge = first[b][None] + torch.arange(M, device=mask.device)[:, None]
        utterance_edge = (first[b] + M + t)[None].expand(M, -1)
        index = torch.cat([torch.stack([nodes.reshape(-1), modality_edge.reshape(-1)]),
                           torch.stack([nodes.reshape(-1), utterance_edge.reshape(-1)])], 1)
        return index, int((lengths + M).sum())

    def build_graph(self, mask: torch.Tensor):
        """Step 4's graph: ``edge_index`` [2, E] (every ordered pair of distinct nodes of
        one modality and dialogue, and of one utterance's modalities) and its
        normalisation ``1 / sqrt(d_i d_j)`` [E]."""
        M = len(self.modalities)
        nodes = self.node_numbers(mask)                          # [M, N]
        node_row = torch.full(mask.shape, -1, dtype=torch.long, device=mask.device)
        node_row[mask] = torch.arange(int(mask.sum()), device=mask.device)
        b, i, j = window_pairs(mask, -1, -1)
        keep = i != j
        src, dst = node_row[b[keep], i[keep]], node_row[b[keep], j[keep]]
        edges = [torch.stack([nodes[m, src], nodes[m, dst]]) for m in range(M)]
        for m in range(M):
            for n in range(M):
                if m != n:
                    edges.append(torch.stack([nodes[m], nodes[n]]))
        edge_index = torch.cat(edges, 1)
        edge_index, weight = gcn_norm(edge_index, None, M * nodes.shape[1],
                                      add_self_loops=False)
        return edge_index, weight

    # ------------------------------------------------------------------ forward
    def node_features(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
                      speakers: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Step 1: [M, N, D_g], the modalities' features of the real utterances."""
        out = []
        for m in self.modalities:
            x = feats[m]
            if m == 'text':
                if self.text_norm is not None:
                    # statistics over the real utterances only
                    x = x.masked_scatter(mask[..., None], self.text_norm(x[mask]))
                if 'text' in self.proj:
                    x = self.proj['text'](x)
                x = packed_lstm(self.text_gru, x, lengths)[mask]
                if self.use_speaker:
                    x = x + self.speaker_embedding(speakers[mask])
            else:
                x = self.proj[m](x[mask])
            out.append(x)
        return torch.stack(out)

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        lengths = prefix_lengths('M3NetBackbone', mask)
        x = self.node_features(feats, mask, speakers, lengths)    # [M, N, D_g]
        M, N = x.shape[:2]
        nodes = self.node_numbers(mask)
        hyper_index, num_edges = self.build_hypergraph(mask)
        if num_edges > self.hyperedge_weight.numel() or M * N > self.node_weight.numel():
            raise ValueError(
                f'M3NetBackbone: a batch of {N} utterances in {mask.shape[0]} dialogues needs '
                f'{num_edges} hyperedge weights and {M * N} node weights, but the model has '
                f'max_hyperedges={self.hyperedge_weight.numel()} and max_nodes='
                f'{self.node_weight.numel()} (published: 1000 and 5200); use a smaller '
                'batch or raise model.backbone.max_hyperedges / max_nodes')
        features = x.new_empty(M * N, x.shape[-1])
        features[nodes.reshape(-1)] = x.reshape(M * N, -1)       # published node order
        h0 = self.fc1(features)
        hyper = h0
        norms = M3NetHypergraphConv.normalisation(
            hyper_index, self.hyperedge_weight, self.node_weight, M * N, num_edges)
        for conv in self.hyper_convs:
            hyper = conv(hyper, hyper_index, *norms)
        edge_index, edge_weight = self.build_graph(mask)
        gated = h0
        for conv in self.gated_convs:
            gated = gated + conv(gated, edge_index, edge_weight)
        node_out = torch.cat([hyper, gated], -1)[nodes]          # [M, N, 2 H]
        fused = torch.relu(torch.cat(list(node_out), dim=-1))    # [N, M 2 H]
        return modality_slots(fused, self.modalities, self.slot_dim)

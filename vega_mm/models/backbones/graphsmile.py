"""GraphSmile (Li et al., TPAMI 2025) on the backbone contract.

The published model (lijfrank-open/GraphSmile, ``GraphSmile`` with ``--textf_mode
textf0`` and the commands of its README), step by step:

1. text: a ``BatchNorm1d``; every modality: ``Linear(D_m, H)``, ``LeakyReLU``,
   ``Dropout``;
2. for each pair of modalities (text-visual, text-audio, visual-audio), a
   heterogeneous graph over the pair's 2N nodes whose edges join each node to the
   *other* modality's nodes of its dialogue within ``window_past`` / ``window_future``
   utterances (both directions), each edge with a learned weight per edge position
   (``edge_weight``, 500000 per pair), the adjacency normalised ``D^-1/2 A D^-1/2``
   (``D`` its row sums); ``num_layers`` GCN layers ``h <- A h W + b`` (the layers are
   copies of one, so they start equal) and the sum ``x + sum_l FC_l(h_l)`` with
   ``FC_l = Dropout(LeakyReLU(Linear))``;
3. the fusion: the mean of ``LeakyReLU(Linear(.))`` (one layer shared by all) over the
   six (pair, modality) outputs;
4. the emotion classifier ``Linear(H, C)``; the sentiment-dynamics branch (a sentiment
   classifier and a sentiment-shift classifier over pairs of utterances) lives in
   :class:`~vega_mm.models.heads.GraphSmileHead`, which needs sentiment labels.

Outputs on the backbone contract (``hidden_dim`` = H): ``'fused'`` is step 3's mean;
each modality's output is its share of that mean (the sum of its own terms over the
number of terms), so the modalities' outputs add up to ``'fused'`` and a linear
classifier on one is that modality's share of the published logits.

The GCN layers are PyTorch Geometric's ``GCNConv`` (weights, and its sparse propagation
for graphs over ``dense_max_nodes`` nodes); smaller graphs propagate with a dense
adjacency as the published code does (faster on CPU at these sizes); the normalisation
is computed once per batch and pair (the published code: per layer call, the same
values); the initialisation is the published one.

Differences from the published code, deliberately (docs/model_zoo.md): the BatchNorm
reads the real utterances only (the published one also the zero padding, whose
statistics then shift every real utterance); the graphs are sparse; one modality is
accepted (then one graph over that modality's nodes with the same window, self-edge
included, an extension: the published model needs two or more); the published layers
that ``textf0`` never uses (three of the four text BatchNorms) are not created.
"""
import copy
import math
from typing import Dict, List, Sequence, Tuple

import torch
import torch.nn as nn

from torch_geometric.nn import GCNConv
from torch_geometric.nn.conv.gcn_conv import gcn_norm

from vega_mm.registry import MODELS
from .base import ConversationBackbone
from .graph_utils import prefix_lengths, window_pairs

__all__ = ['GraphSmileBackbone', 'HeterGraphStack']

#: The published pair order (text-visual, text-audio, visual-audio).
PAIR_ORDER: Tuple[Tuple[str, str], ...] = (('text', 'visual'), ('text', 'audio'),
                                           ('visual', 'audio'))


def _published_gcn(channels: int) -> nn.Module:
    """PyG's GCNConv (propagation only; the normalised weights come from the caller) with
    the published initialisation U(-1/sqrt(H), 1/sqrt(H)) of weight and bias."""
    conv = GCNConv(channels, channels, normalize=False, add_self_loops=False, bias=True)
    bound = 1.0 / math.sqrt(channels)
    nn.init.uniform_(conv.lin.weight, -bound, bound)
    nn.init.uniform_(conv.bias, -bound, bound)
    return conv


class HeterGraphStack(nn.Module):
    """One pair's graph layers (the published ``HeterGConv_Edge``): learned per-position
    edge weights, ``num_layers`` GCN layers and their ``FC`` sums.

    Args:
        channels: H.
        num_layers: GCN layers.
        dropout: of the ``FC`` layers.
        max_edges: the learned per-position edge weights (500000, as published).
        dense_max_nodes: graphs of up to this many nodes propagate with a dense
            adjacency (as published), larger ones with PyG's sparse GCNConv; the same
            sums either way.
    """

    def __init__(self, channels: int, num_layers: int, dropout: float,
                 max_edges: int = 500000, dense_max_nodes: int = 4096) -> None:
        super().__init__()
        self.dense_max_nodes = dense_max_nodes
        self.edge_weight = nn.Parameter(torch.ones(max_edges))
        # copies of one layer, as published (_get_clones): they start equal
        conv = _published_gcn(channels)
        self.convs = nn.ModuleList(copy.deepcopy(conv) for _ in range(num_layers))
        fc = nn.Sequential(nn.Linear(channels, channels), nn.LeakyReLU(), nn.Dropout(dropout))
        self.fcs = nn.ModuleList(copy.deepcopy(fc) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """``x`` [V, H]; ``edge_index`` [2, E] in the published edge order (row i of the
        published adjacency reads column j for an edge (i, j)) -> [V, H]."""
        E = edge_index.shape[1]
        if E > self.edge_weight.numel():
            raise ValueError(f'GraphSmileBackbone: a batch with {E} edges in one pair graph '
                             f'exceeds max_edges={self.edge_weight.numel()} (published: '
                             '500000); use a smaller batch or window, or raise '
                             'model.backbone.max_edges')
        # messages flow from j to i: PyG's (source, target) = (j, i); gcn_norm's degree
        # at the target is the published row sum
        flipped = edge_index.flip(0)
        flipped, weight = gcn_norm(flipped, self.edge_weight[:E], x.shape[0],
                                   add_self_loops=False)
        V = x.shape[0]
        adj_t = torch.sparse_coo_tensor(flipped.flip(0), weight, (V, V))   # [target, source]
        if V <= self.dense_max_nodes:
            # a dense product, as published: the fastest on CPU at IEMOCAP's and MELD's
            # sizes (the window graphs fill a tenth of the matrix or more)
            adj_t = adj_t.to_dense()
            layer = lambda conv, h: adj_t @ conv.lin(h) + conv.bias  # noqa: E731
        else:
            # PyG's GCNConv with a CSR adjacency: one sparse product per layer
            adj_t = adj_t.to_sparse_csr()
            layer = lambda conv, h: conv(h, adj_t)  # noqa: E731
        out = x
        for conv, fc in zip(self.convs, self.fcs):
            x = layer(conv, x)
            out = out + fc(x)
        return out


@MODELS.register_module()
class GraphSmileBackbone(ConversationBackbone):
    """GraphSmile (see the module docstring) on the backbone contract.

    Args:
        input_dims: feature dimension per modality (one, two or three modalities).
        hidden_dim: H (published: 512 IEMOCAP, 384 MELD).
        window_past, window_future: the cross-modal edges' window (-1: the whole
            dialogue; published: 17/17 IEMOCAP, 3/3 MELD).
        num_layers: GCN layers per pair (one int, or one per pair in the published pair
            order text-visual, text-audio, visual-audio; published: 7 IEMOCAP, 5 MELD).
        dropout: of the input layers and the FC layers (``--drop 0.2``).
        text_norm: the BatchNorm over the text features (True, as published).
        max_edges: learned per-position edge weights per pair (500000).
        dense_max_nodes: pair graphs of up to this many nodes (2N) propagate with a dense
            adjacency, larger ones sparse (:class:`HeterGraphStack`; the same sums).
        **kwargs: :class:`ConversationBackbone`'s ``num_speakers`` (S, 2; GraphSmile
            reads no speakers: kept for the contract), ``max_len`` (None: no limit),
            ``causal`` (refused: :attr:`non_causal_reason`; with ``window_future=0`` the
            graph is causal but the BatchNorm and the learned per-position weights are
            not per-utterance, so it stays refused) and ``init_cfg``.
    """

    non_causal_reason = "its graphs join each utterance to the next window_future ones"

    def __init__(self,
                 input_dims: Dict[str, int],
                 hidden_dim: int = 512,
                 window_past: int = 17,
                 window_future: int = 17,
                 num_layers=7,
                 dropout: float = 0.2,
                 text_norm: bool = True,
                 max_edges: int = 500000,
                 dense_max_nodes: int = 4096,
                 **kwargs) -> None:
        super().__init__(input_dims, hidden_dim, **kwargs)
        for name, w in (('window_past', window_past), ('window_future', window_future)):
            if isinstance(w, bool) or not isinstance(w, int) or w < -1:
                raise ValueError(f'GraphSmileBackbone.{name} must be an integer >= 0, or -1 '
                                 f'for the whole dialogue, got {w!r}')
        self.window_past, self.window_future = window_past, window_future
        present = [m for m in self.modalities]
        self.pairs: List[Tuple[str, ...]] = [p for p in PAIR_ORDER
                                             if p[0] in present and p[1] in present]
        if not self.pairs:   # one modality: one graph over its own nodes (an extension)
            self.pairs = [(present[0], )]
        layers = num_layers if isinstance(num_layers, Sequence) else [num_layers] * 3
        if len(layers) != 3 or any(isinstance(n, bool) or not isinstance(n, int) or n < 1
                                   for n in layers):
            raise ValueError('GraphSmileBackbone.num_layers must be a positive integer or '
                             'three of them (text-visual, text-audio, visual-audio), got '
                             f'{num_layers!r}')
        self.dropout = dropout
        self.text_norm = nn.BatchNorm1d(self.input_dims['text']) \
            if text_norm and 'text' in self.modalities else None
        self.proj = nn.ModuleDict({
            m: nn.Sequential(nn.Linear(self.input_dims[m], hidden_dim), nn.LeakyReLU(),
                             nn.Dropout(dropout)) for m in self.modalities})
        index = {p: k for k, p in enumerate(PAIR_ORDER)}
        self.graphs = nn.ModuleDict({
            '_'.join(p): HeterGraphStack(hidden_dim, layers[index.get(p, 0)], dropout,
                                         max_edges, dense_max_nodes) for p in self.pairs})
        self.modal_fusion = nn.Sequential(nn.Linear(hidden_dim, hidden_dim), nn.LeakyReLU())

    def build_graph(self, mask: torch.Tensor, two_modalities: bool = True) -> torch.Tensor:
        """A pair graph's ``edge_index`` [2, E] over nodes ``[first modality's N;
        second's N]`` in the published edge order: dialogue by dialogue, the first
        modality's nodes to the second's within the window, then the reverse; one
        modality: its N nodes to themselves within the window."""
        N = int(mask.sum())
        node = torch.full(mask.shape, -1, dtype=torch.long, device=mask.device)
        node[mask] = torch.arange(N, device=mask.device)
        b, i, j = window_pairs(mask, self.window_past, self.window_future)
        src, dst = node[b, i], node[b, j]
        if not two_modalities:
            return torch.stack([src, dst])
        # position of every edge: per dialogue, direction 0 block then direction 1 block
        count = torch.bincount(b, minlength=mask.shape[0])
        start = torch.cumsum(2 * count, 0) - 2 * count
        rank = torch.arange(b.numel(), device=mask.device) - (torch.cumsum(count, 0) - count)[b]
        edge_index = torch.empty(2, 2 * b.numel(), dtype=torch.long, device=mask.device)
        pos0 = start[b] + rank
        pos1 = pos0 + count[b]
        edge_index[:, pos0] = torch.stack([src, dst + N])
        edge_index[:, pos1] = torch.stack([src + N, dst])
        return edge_index

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        prefix_lengths('GraphSmileBackbone', mask)
        x = {}
        for m in self.modalities:
            v = feats[m][mask]
            if m == 'text' and self.text_norm is not None:
                v = self.text_norm(v)    # statistics over the real utterances only
            x[m] = self.proj[m](v)
        N = next(iter(x.values())).shape[0]
        two = len(self.pairs[0]) == 2
        edge_index = self.build_graph(mask, two)
        terms: Dict[str, List[torch.Tensor]] = {m: [] for m in self.modalities}
        for p in self.pairs:
            nodes = torch.cat([x[m] for m in p], 0)
            out = self.graphs['_'.join(p)](nodes, edge_index)
            for k, m in enumerate(p):
                terms[m].append(self.modal_fusion(out[k * N:(k + 1) * N]))
        count = sum(len(t) for t in terms.values())
        own = {m: torch.stack(t).sum(0) / count for m, t in terms.items()}
        # the published mean of the six terms, grouped by modality (equal up to rounding)
        fused = sum(own.values())
        return {'fused': fused, **own}

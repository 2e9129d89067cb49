"""DialogueGCN against the DialogueGCN folder of declare-lab/conv-emotion.

Shims for its old APIs, here only: PyTorch Geometric 1.x's ``RGCNConv`` (edge weights
``edge_norm``, sum aggregation; PyG 2.x dropped both) and 1.x indexing with a [3, E]
numpy array (its edge mask; PyTorch 2 reads it as one index instead of one per
dimension: :class:`~parity.lstm_models.LegacyIndexNumpy`).
"""
import numpy as np
import torch
import torch.nn as nn

from vega_mm.registry import MODELS
from . import lstm_models
from .common import dataset_size, entry_points, import_checkout, rel
from .lstm_models import LegacyIndexNumpy

SIZES = dict(iemocap=dataset_size(dict(text=100), 'iemocap'),
             meld=dataset_size(dict(text=600), 'meld'))
#: the published (sequence-first) LSTM that reads the padding
LSTM = 'lstm'
#: training speed: dropout (the published ``--dropout``) and Adam's learning rate
SPEED = dict(dropout=0.4, lr=3e-4)


def legacy_rgcn_class():
    """PyTorch Geometric 1.x's ``RGCNConv`` (what the published DialogueGCN was written
    for): basis decomposition, a message per edge ``x_j W_r * edge_norm``, sum
    aggregation, root weight and bias."""
    from torch_geometric.nn import MessagePassing

    class LegacyRGCNConv(MessagePassing):

        def __init__(self, in_channels, out_channels, num_relations, num_bases,
                     root_weight=True, bias=True, **kwargs):
            super().__init__(aggr='add', **kwargs)
            self.in_channels, self.out_channels = in_channels, out_channels
            self.num_relations, self.num_bases = num_relations, num_bases
            self.basis = nn.Parameter(torch.empty(num_bases, in_channels, out_channels))
            self.att = nn.Parameter(torch.empty(num_relations, num_bases))
            self.root = nn.Parameter(torch.empty(in_channels, out_channels)) \
                if root_weight else None
            self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None
            for p in (self.basis, self.att, self.root):
                if p is not None:
                    nn.init.uniform_(p, -1 / in_channels ** 0.5, 1 / in_channels ** 0.5)

        def forward(self, x, edge_index, edge_type, edge_norm=None, size=None):
            # propagate_type: (x: Tensor, edge_type: Tensor, edge_norm: Tensor)
            return self.propagate(edge_index, x=x, edge_type=edge_type,
                                  edge_norm=edge_norm)

        def message(self, x_j, edge_type, edge_norm):
            w = (self.att @ self.basis.view(self.num_bases, -1)).view(
                self.num_relations, self.in_channels, self.out_channels)
            out = torch.bmm(x_j.unsqueeze(1), w[edge_type]).squeeze(-2)
            return out if edge_norm is None else out * edge_norm.view(-1, 1)

        def update(self, aggr_out, x):
            out = aggr_out
            if self.root is not None:
                out = out + x @ self.root
            if self.bias is not None:
                out = out + self.bias
            return out

    return LegacyRGCNConv


def import_published(folder: str):
    """The published ``model`` module, imported with PyG 1.x's ``RGCNConv``."""
    import torch_geometric.nn as pyg_nn
    saved = pyg_nn.RGCNConv
    pyg_nn.RGCNConv = legacy_rgcn_class()   # for the published import only
    try:
        module = import_checkout(folder, ['model.py'],
                                 'the DialogueGCN folder of declare-lab/conv-emotion',
                                 ('model', 'model_GCN', 'model_mm'))
    finally:
        pyg_nn.RGCNConv = saved
    module.np = LegacyIndexNumpy(np)
    return module


def build_pair(module, name: str, size: dict, dropout: float):
    """(published model, vega_mm backbone, vega_mm head) with the published settings."""
    dims, S, C = size['dims'], size['speakers'], size['classes']
    pub = module.DialogueGCNModel(
        'LSTM', dims['text'], 150, 150, 100, 100, 100, 100, n_speakers=S,
        max_seq_len=110, window_past=10, window_future=10, n_classes=C,
        dropout=dropout, nodal_attention=True, no_cuda=True)
    ours = MODELS.build(dict(
        type='DialogueGCNBackbone', input_dims=dims, hidden_dim=100, context_dim=100,
        num_speakers=S, max_len=110, window_past=10, window_future=10, num_bases=30,
        nodal_attention=True, dropout=dropout))
    return pub, ours


def weight_map(pub: nn.Module, ours: nn.Module):
    """(published names, vega_mm name, how) for every vega_mm parameter."""
    pairs = [((f'lstm.{n}', ), f'backbone.context.{n}', None)
             for n, _ in pub.lstm.named_parameters()]
    pairs += [(('att_model.scalar.weight', ), 'backbone.edge_attention.weight', None),
              (('graph_net.conv1.basis', ), 'backbone.rgcn.weight', None),
              (('graph_net.conv1.att', ), 'backbone.rgcn.comp', None),
              (('graph_net.conv1.root', ), 'backbone.rgcn.root', None),
              (('graph_net.conv1.bias', ), 'backbone.rgcn.bias', None)]
    for n, _ in pub.graph_net.conv2.named_parameters():
        pairs.append(((f'graph_net.conv2.{n}', ), f'backbone.gconv.{n}', None))
    for p in ('weight', 'bias'):
        pairs += [((f'graph_net.matchatt.transform.{p}', ), f'backbone.node_attention.{p}',
                   None),
                  ((f'graph_net.linear.{p}', ), f'backbone.linear.{p}', None),
                  ((f'graph_net.smax_fc.{p}', ), f'head.classifiers.fused.1.{p}', None)]
    return pairs


def run_published(pub: nn.Module, b: dict):
    return pub(b['U']['text'], b['qmask'], b['umask'], b['lengths'])


def extra_rows(ours, b: dict, p_out, rtol: float):
    """The edges, their relation types and weights against the published ones."""
    _, p_index, p_norm, p_type, _ = p_out
    feats, mask = b['feats'], b['mask']
    with torch.no_grad():
        x = torch.cat([feats[m] for m in ours.modalities], dim=-1)
        from vega_mm.models.backbones.graph_utils import packed_lstm
        g = packed_lstm(ours.context, x, mask.sum(1))
        o_index, o_type, o_weight = ours.build_graph(g, mask, b['speakers'])
    pub_edges = {(int(s), int(t)): (int(r), float(w))
                 for s, t, r, w in zip(*p_index, p_type, p_norm)}
    our_edges = {(int(s), int(t)): (int(r), float(w))
                 for s, t, r, w in zip(*o_index, o_type, o_weight)}
    rows = [('edge set and relation types (mismatches)',
             float(sum(pub_edges.get(k, (None, ))[0] != v[0] for k, v in our_edges.items())
                   + len(set(pub_edges) ^ set(our_edges))), set(pub_edges) == set(our_edges)
             and all(pub_edges[k][0] == v[0] for k, v in our_edges.items()))]
    keys = sorted(set(pub_edges) & set(our_edges))
    a = torch.tensor([our_edges[k][1] for k in keys])
    c = torch.tensor([pub_edges[k][1] for k in keys])
    d = rel(a, c)
    rows.append(('edge weights', d, d <= rtol))
    return rows


check_size, speed = entry_points(__name__, lstm_models)
NOT_COUNTED = lstm_models.NOT_COUNTED

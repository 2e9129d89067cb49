"""M3Net against feiyuchen7/M3NET: its ``Model`` with ``--graph_type hyper
--mm_fusion_mthd concat_DHT --base-model GRU --norm BN`` and its README's settings for
the size; the loss its class-weighted NLL on IEMOCAP (its NLL on MELD, which vega_mm
trains; the published MELD loss is a focal-style loss, docs/model_zoo.md).

Shims for its old APIs, here only: ``torch_scatter.scatter_add`` (its hypergraph layer;
PyG 2 has ``torch_geometric.utils.scatter``), PyG 1.x's
``torch_geometric.nn.pool.topk_pool.topk`` (imported, unused), PyG 1.x's reading of
``propagate``'s ``size`` under ``flow='target_to_source'``
(:func:`legacy_propagate_size`), a no-op ``.cuda()``, an empty ``ipdb``.
"""
import contextlib
import io
import sys
import types

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.registry import MODELS
from . import norm_models
from .common import (IEMOCAP_WEIGHTS, cpu_only, dataset_size, entry_points, import_checkout,
                     label_head)
from .common import make_batch  # noqa: F401  (the batches: norm_models reads it here)

#: the RoBERTa text of both published feature files
SIZES = dict(iemocap=dataset_size(dict(text=1024, audio=1582, visual=342), 'iemocap'),
             meld=dataset_size(dict(text=1024, audio=300, visual=342), 'meld'))
#: the README's settings per size
SETTINGS = dict(iemocap=dict(node_dim=512, num_K=4, dataset='IEMOCAP', text_proj=True),
                meld=dict(node_dim=1024, num_K=3, dataset='MELD', text_proj=False))
#: training speed: dropout (the published ``--dropout``) and Adam's learning rate
SPEED = dict(dropout=0.5, lr=1e-4)
#: the published GRU, run on packed sequences in the control layout
PACKED_RNN = 'gru_l'
EVAL_READS_PADDING = True
WHY_TRAIN = 'the published BatchNorm statistics count the padding and its GRU reads it'


def _shim_modules() -> None:
    if 'torch_scatter' not in sys.modules:
        try:
            import torch_scatter  # noqa: F401
        except ImportError:
            from torch_geometric.utils import scatter
            mod = types.ModuleType('torch_scatter')
            mod.scatter_add = lambda src, index, dim=0, dim_size=None: scatter(
                src, index, dim=dim, dim_size=dim_size, reduce='sum')
            sys.modules['torch_scatter'] = mod
    import torch_geometric.nn.pool.topk_pool as topk_pool
    if not hasattr(topk_pool, 'topk'):
        topk_pool.topk = None   # imported by model_hyper.py, never called


def legacy_propagate_size(conv: nn.Module) -> None:
    """PyTorch Geometric 1.x read ``propagate``'s ``size`` as (source side, target side)
    under either flow; 2.x reads it as (``edge_index[0]`` side, ``edge_index[1]`` side).
    M3Net's hypergraph layer sets ``flow='target_to_source'`` for its second
    propagation, so its ``size`` is swapped there."""
    propagate = conv.propagate

    def legacy(edge_index, size=None, **kwargs):
        if size is not None and conv.flow == 'target_to_source':
            size = (size[1], size[0])
        return propagate(edge_index, size=size, **kwargs)

    conv.propagate = legacy


def import_published(folder: str):
    _shim_modules()
    return import_checkout(
        folder, ['model.py', 'model_hyper.py', 'HypergraphConv.py', 'high_fre_conv.py',
                 'model_GCN.py'], 'a feiyuchen7/M3NET checkout',
        ('model', 'model_GCN', 'model_hyper', 'HypergraphConv', 'high_fre_conv', 'module',
         'utils'))


def build_pair(module, name: str, size: dict, dropout: float):
    """(published model, vega_mm backbone, vega_mm head)."""
    dims, S, C = size['dims'], size['speakers'], size['classes']
    s = SETTINGS[name]
    with cpu_only(), contextlib.redirect_stdout(io.StringIO()):   # its prints
        pub = module.Model(
            'GRU', dims['text'], s['node_dim'], 150, 100, 100, 100, 512, n_speakers=S,
            max_seq_len=200, window_past=10, window_future=10, n_classes=C,
            dropout=dropout, no_cuda=True, graph_type='hyper', graph_construct='direct',
            use_residue=False, D_m_v=dims['visual'], D_m_a=dims['audio'], modals='avl',
            att_type='concat_DHT', av_using_lstm=False, dataset=s['dataset'],
            use_speaker=True, use_modal=False, norm='BN', num_L=3, num_K=s['num_K'])
    for k in range(3):
        legacy_propagate_size(getattr(pub.graph_model, f'hyperconv{k + 1}'))
    ours = MODELS.build(dict(
        type='M3NetBackbone', input_dims=dims, node_dim=s['node_dim'], graph_hidden=512,
        num_hyper_layers=3, num_gated_layers=s['num_K'], dropout=dropout,
        text_proj=s['text_proj'], num_speakers=S))
    return pub, ours, label_head(size, ours, dropout)


def weight_map(pub: nn.Module, ours: nn.Module):
    """(published names, vega_mm name, how) for every vega_mm parameter."""
    pairs = []
    bns = tuple(f'normBN{k}' for k in 'abcd')
    for p in ('weight', 'bias'):
        pairs.append((tuple(f'{b}.{p}' for b in bns), f'backbone.text_norm.{p}', None))
        for m, short in (('audio', 'a'), ('visual', 'v'), ('text', 'l')):
            if m in ours.proj:
                pairs.append(((f'linear_{short}.{p}', ), f'backbone.proj.{m}.{p}', None))
        pairs.append(((f'graph_model.fc1.{p}', ), f'backbone.fc1.{p}', None))
        pairs.append(((f'smax_fc.{p}', ), f'head.classifiers.fused.1.{p}', None))
    for n, _ in pub.gru_l.named_parameters():
        pairs.append(((f'gru_l.{n}', ), f'backbone.text_gru.{n}', None))
    pairs += [(('graph_model.speaker_embeddings.weight', ),
               'backbone.speaker_embedding.weight', None),
              (('graph_model.hyperedge_weight', ), 'backbone.hyperedge_weight', None),
              (('graph_model.EW_weight', ), 'backbone.node_weight', None)]
    for k in range(len(ours.hyper_convs)):
        pairs.append(((f'graph_model.hyperconv{k + 1}.bias', ),
                      f'backbone.hyper_convs.{k}.bias', None))
    H = ours.graph_hidden
    for k in range(len(ours.gated_convs)):
        gate = f'graph_model.conv{k + 1}.gate'
        # published gate [x_i; x_j]: x_i is FAConv's att_r (target), x_j its att_l
        pairs += [((f'{gate}.weight', ), f'backbone.gated_convs.{k}.att_r.weight',
                   torch.arange(H)),
                  ((f'{gate}.weight', ), f'backbone.gated_convs.{k}.att_l.weight',
                   torch.arange(H, 2 * H)),
                  ((f'{gate}.bias', ), f'backbone.gated_convs.{k}.att_l.bias', None)]
    return pairs


def text_norms(pub: nn.Module):
    """The published text BatchNorms (four, equal)."""
    return [pub.normBNa, pub.normBNb, pub.normBNc, pub.normBNd]


def run_published(pub: nn.Module, b: dict):
    U = b['U']
    t = U['text']
    return pub([t, t, t, t], b['qmask'], b['umask'], b['lengths'], U['audio'], U['visual'],
               0)[:1]


def run_ours(ours, head, b: dict):
    feat = ours(b['feats'], b['mask'], b['speakers'])
    return (F.log_softmax(head(feat)['fused'], -1), )


def extra_rows(o_out, p_out):
    return []


def published_loss(pub, b: dict, size: dict, name: str) -> torch.Tensor:
    w = torch.tensor(IEMOCAP_WEIGHTS) if size['classes'] == 6 else None
    return F.nll_loss(run_published(pub, b)[0], b['labels'], weight=w)


def our_loss(ours, head, b: dict) -> torch.Tensor:
    feat = ours(b['feats'], b['mask'], b['speakers'])
    return head.loss_module(head(feat), b['labels'])['loss_cls']


check_size, speed = entry_points(__name__, norm_models)
NOT_COUNTED = norm_models.NOT_COUNTED

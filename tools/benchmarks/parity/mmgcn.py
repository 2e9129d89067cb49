"""MMGCN against hujingwen6666/MMGCN (``--graph_type MMGCN``, its README's settings).

Shims for its old APIs, here only: a no-op ``.cuda()`` while it runs (it calls it
unconditionally) and PyTorch 1.x indexing with a [2, n] numpy array (its cross-modal
diagonals: :class:`~parity.lstm_models.LegacyIndexNumpy`).
"""
import sys

import numpy as np
import torch
import torch.nn as nn

from vega_mm.registry import MODELS
from . import lstm_models
from .common import cpu_only, dataset_size, entry_points, import_checkout
from .lstm_models import LegacyIndexNumpy

SIZES = dict(iemocap=dataset_size(dict(text=100, audio=1582, visual=342), 'iemocap'),
             meld=dataset_size(dict(text=600, audio=300, visual=342), 'meld'))
#: the published (sequence-first) text LSTM that reads the padding
LSTM = 'lstm_l'
#: training speed: dropout (the published ``--dropout``) and Adam's learning rate
SPEED = dict(dropout=0.4, lr=3e-4)


def import_published(folder: str):
    module = import_checkout(folder, ['model.py', 'model_GCN.py', 'model_mm.py'],
                             'the hujingwen6666/MMGCN checkout',
                             ('model', 'model_GCN', 'model_mm'))
    sys.modules['model_mm'].np = LegacyIndexNumpy(np)
    return module


def build_pair(module, name: str, size: dict, dropout: float):
    """(published model, vega_mm backbone) with the published settings."""
    dims, S, C = size['dims'], size['speakers'], size['classes']
    with cpu_only():
        pub = module.DialogueGCNModel(
            'LSTM', dims['text'], 150, 150, 100, 100, 100, 100, n_speakers=S,
            max_seq_len=200, window_past=10, window_future=10, n_classes=C,
            dropout=dropout, nodal_attention=True, no_cuda=True, graph_type='MMGCN',
            graph_construct='direct', use_residue=True, D_m_v=dims['visual'],
            D_m_a=dims['audio'], modals='avl', att_type='concat_subsequently',
            av_using_lstm=False, Deep_GCN_nlayers=4, use_speaker=True, use_modal=False)
    ours = MODELS.build(dict(
        type='MMGCNBackbone', input_dims=dims, context_dim=100, graph_hidden=100,
        text_proj_dim=200, num_layers=64, alpha=0.1, lamda=0.5, dropout=dropout,
        use_speaker=True, num_speakers=S))
    return pub, ours


def weight_map(pub: nn.Module, ours: nn.Module):
    """(published names, vega_mm name, how) for every vega_mm parameter."""
    pairs = [((f'lstm_l.{n}', ), f'backbone.text_lstm.{n}', None)
             for n, _ in pub.lstm_l.named_parameters()]
    for p in ('weight', 'bias'):
        pairs += [((f'linear_l.{p}', ), f'backbone.proj.text.{p}', None),
                  ((f'linear_a.{p}', ), f'backbone.proj.audio.{p}', None),
                  ((f'linear_v.{p}', ), f'backbone.proj.visual.{p}', None),
                  ((f'graph_model.graph_net.fcs.0.{p}', ), f'backbone.input_fc.{p}', None)]
    pairs.append((('graph_model.speaker_embeddings.weight', ),
                  'backbone.speaker_embedding.weight', None))
    for i in range(len(ours.convs)):
        pairs.append(((f'graph_model.graph_net.convs.{i}.weight', ),
                      f'backbone.convs.{i}.weight', None))
    # published slots a, v, l; vega_mm's t, a, v
    slot = ours.slot_dim
    perm = torch.cat([torch.arange(slot) + k * slot for k in (2, 0, 1)])
    pairs += [(('smax_fc.weight', ), 'head.classifiers.fused.1.weight', perm),
              (('smax_fc.bias', ), 'head.classifiers.fused.1.bias', None)]
    return pairs


def run_published(pub: nn.Module, b: dict):
    U = b['U']
    return pub(U['text'], b['qmask'], b['umask'], b['lengths'], U['audio'], U['visual'])


def extra_rows(ours, b: dict, p_out, rtol: float):
    return []


check_size, speed = entry_points(__name__, lstm_models)
NOT_COUNTED = lstm_models.NOT_COUNTED

"""The checks of DialogueGCN and MMGCN (both from declare-lab/conv-emotion's code base:
a sequence-first LSTM over the padded batch, then a graph, then a classifier).

Each size is checked three times: on dialogues of equal length; on dialogues of mixed
lengths, where the published LSTM reads the zero padding of the shorter dialogues (its
backward direction starts at the batch's longest length) and vega_mm's does not, so
those rows report that difference as measured and are not counted (docs/model_zoo.md),
except the longest dialogue's rows, which no padding reaches; and on the same mixed
lengths with the published LSTM run on packed sequences, the control that shows the
padding is the only difference.

A method module gives ``SIZES``, ``SPEED``, ``LSTM`` (its published LSTM's attribute),
``build_pair(module, name, size, dropout)`` -> (published, backbone),
``weight_map(pub, ours)``, ``run_published(pub, batch)`` and ``extra_rows(ours,
batch, published outputs, rtol)``.

Shim for both: PyTorch 1.x indexing with a [3, E] or [2, n] numpy array (DialogueGCN's
edge mask, MMGCN's cross-modal diagonals; PyTorch 2 reads it as one index instead of
one per dimension).
"""
from typing import Dict, List, Tuple

import numpy as np
import torch
import torch.nn.functional as F

from .common import (IEMOCAP_WEIGHTS, cpu_only, label_head, load_mapped, make_batch,
                     pack_rnn, rel, training_speed, worst_gradient)

#: rows of a counted check: yes / NO; of a row not counted, the reason
NOT_COUNTED = 'no: the published LSTM reads the padding (not counted)'
#: (layout, packed published LSTM, counted as a check)
LAYOUTS = (('equal lengths', False, True),
           ('mixed lengths', False, False),
           ('mixed lengths, published LSTM packed', True, True))


class LegacyIndexNumpy:
    """``np`` for the published module, whose ``np.array(...).transpose()`` of edge
    triples indexes a tensor: PyTorch 1.x read a [3, E] array as one index per
    dimension, PyTorch 2 as a single index, so the array is handed over as a tuple."""

    def __init__(self, real):
        self._real = real

    def __getattr__(self, name):
        return getattr(self._real, name)

    def array(self, obj, *args, **kwargs):
        if isinstance(obj, tuple) and obj and all(isinstance(o, np.ndarray) for o in obj):
            # MMGCN: np.array(np.diag_indices(n)), copied, shifted row by row, then used
            # as one index per dimension
            return _IndexRows(self._real.array(o) for o in obj)
        arr = self._real.array(obj, *args, **kwargs)
        if arr.ndim == 2 and arr.shape[1] == 3 and arr.dtype.kind in 'iu':
            return _Triples(arr)
        return arr


class _Triples(np.ndarray):

    def __new__(cls, arr):
        return np.asarray(arr).view(cls)

    def transpose(self, *axes):
        t = np.asarray(self).transpose(*axes)
        return tuple(torch.as_tensor(row) for row in t)


class _IndexRows(list):
    """Rows of indices that copy deeply and index a tensor one row per dimension."""

    def copy(self):
        return _IndexRows(np.array(r, copy=True) for r in self)


def _pair(method, module, name: str, size: dict, dropout: float):
    """(published, backbone, head, weight map), vega_mm's weights the published ones."""
    pub, ours = method.build_pair(module, name, size, dropout)
    head = label_head(size, ours, dropout)
    pairs = method.weight_map(pub, ours)
    load_mapped(pairs, pub, ours, head)
    return pub, ours, head, pairs


def _published_loss(method, pub, b: dict, classes: int) -> torch.Tensor:
    with cpu_only():
        lp = method.run_published(pub, b)[0]
    weights = torch.tensor(IEMOCAP_WEIGHTS) if classes == 6 else None
    return F.nll_loss(lp, b['labels'], weight=weights)


def _our_loss(ours, head, b: dict) -> torch.Tensor:
    feat = ours(b['feats'], b['mask'], b['speakers'])
    return head.loss_module(head(feat), b['labels'])['loss_cls']


def check_size(method, module, name: str, size: dict, seed: int, rtol: float,
               gtol: float) -> List[Tuple[str, float, bool, bool]]:
    """Rows (what, difference, within tolerance, counted) for one size."""
    rows = []
    for layout, pack, counted in LAYOUTS:
        lengths = size['lengths'] if layout.startswith('mixed') else \
            [max(size['lengths'])] * 2
        torch.manual_seed(seed)
        pub, ours, head, pairs = _pair(method, module, name, size, dropout=0.0)
        if pack:
            pack_rnn(pub, method.LSTM, lengths)
        b = make_batch(size, lengths, seed)
        tag = f'{name}, {layout} ({len(lengths)} dialogues, {sum(lengths)} utterances)'

        def add(what, diff, tol, always=False):
            rows.append((f'{tag}: {what}', diff, diff <= tol, counted or always))

        # eval-mode outputs
        pub.eval(), ours.eval(), head.eval()
        with torch.no_grad(), cpu_only():
            p_out = method.run_published(pub, b)
            o_out = F.log_softmax(head(ours(b['feats'], b['mask'], b['speakers']))['fused'],
                                  dim=-1)
        add('log-probabilities (eval)', rel(o_out, p_out[0]), rtol)
        if layout == 'mixed lengths':
            # the longest dialogue's rows: no padding reaches them in either model
            n0 = lengths[0]
            add('log-probabilities of the longest dialogue', rel(o_out[:n0], p_out[0][:n0]),
                rtol, always=True)
        for what, diff, ok in method.extra_rows(ours, b, p_out, rtol):
            rows.append((f'{tag}: {what}', diff, ok, counted))
        # loss and one training step's gradients (dropout 0 in both)
        pub.train(), ours.train(), head.train()
        p_loss = _published_loss(method, pub, b, size['classes'])
        o_loss = _our_loss(ours, head, b)
        add(f'loss ({float(p_loss.detach()):.6f})',
            abs(float(o_loss.detach()) - float(p_loss.detach())) / abs(float(p_loss.detach())),
            rtol)
        p_loss.backward()
        o_loss.backward()
        worst, worst_name = worst_gradient(pairs, pub, ours, head)
        add(f'gradients of {len(pairs)} tensors, worst ({worst_name}) relative to its norm',
            worst, gtol)
    return rows


def speed(method, module, name: str, size: dict, steps: int,
          seed: int) -> Dict[str, float]:
    """Utterances per second of training steps of both, dropout on."""
    torch.manual_seed(seed)
    pub, ours, head, _ = _pair(method, module, name, size, dropout=method.SPEED['dropout'])
    b = make_batch(size, size['lengths'], seed)
    return training_speed(pub, ours, head, dict(
        published=lambda: _published_loss(method, pub, b, size['classes']),
        vega_mm=lambda: _our_loss(ours, head, b)), int(b['mask'].sum()), steps,
        method.SPEED['lr'])

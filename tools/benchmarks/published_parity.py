"""Parity of vega_mm's zoo backbones with their published code, and training speed.

    python tools/benchmarks/published_parity.py --method dialoguegcn \\
        --published-code ~/src/conv-emotion/DialogueGCN
    python tools/benchmarks/published_parity.py --method mmgcn --published-code ~/src/MMGCN
    python tools/benchmarks/published_parity.py --method m3net --published-code ~/src/M3NET
    python tools/benchmarks/published_parity.py --method graphsmile \\
        --published-code ~/src/GraphSmile

imports the published model class from the checkout given (never copied into vega_mm:
it keeps its own licence), builds vega_mm's backbone and LinearLabelHead with the same
settings, loads the published weights into vega_mm's, and on random batches at IEMOCAP
and MELD sizes compares

- every output in eval mode (the log-probabilities; for DialogueGCN also the edges,
  their relation types and weights) within ``--rtol`` (1e-5) of the largest magnitude;
- the loss (class-weighted NLL) within ``--rtol``;
- one training step's gradients (dropout off so both draw nothing) within ``--gtol``
  (1e-4) of each gradient's norm, parameter by parameter through the weight mapping.

Each size is checked three times: on dialogues of equal length; on dialogues of mixed
lengths, where the published LSTM reads the zero padding of the shorter dialogues (its
backward direction starts at the batch's longest length) and vega_mm's does not, so
those rows report that difference as measured and are not counted (docs/model_zoo.md),
except the longest dialogue's rows, which no padding reaches; and on the same mixed
lengths with the published LSTM run on packed sequences, the control that shows the
padding is the only difference.

``--speed`` times training steps (forward, backward, Adam) of both models on the same
CPU and shapes, with dropout on, and prints utterances per second.

Shims for the published code's old APIs live here only: PyTorch Geometric 1.x's
``RGCNConv`` (edge weights ``edge_norm``, sum aggregation; PyG 2.x dropped both), a
no-op ``.cuda()`` while the published model runs (MMGCN calls it unconditionally), an
empty ``ipdb`` module, and 1.x indexing with a [3, E] or [2, n] numpy array
(DialogueGCN's edge mask, MMGCN's cross-modal diagonals; PyTorch 2 reads it as one
index instead of one per dimension).
M3Net and GraphSmile (what they check, their layouts and shims) are described in
zoo_parity_part2.py, which this script imports for them.

Exits 1 when a check fails.
"""
import argparse
import contextlib
import importlib
import os.path as osp
import sys
import time
import types
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

import vega_mm.models  # noqa: F401  (registers vega_mm's classes before any shim)
from vega_mm.registry import MODELS

#: M3Net and GraphSmile (the model zoo's part 2): their pieces are in zoo_parity_part2.py
#: next to this script
PART2 = ('m3net', 'graphsmile')
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

#: Published class weights of IEMOCAP (1 / class frequency, both repositories).
IEMOCAP_WEIGHTS = [1 / 0.086747, 1 / 0.144406, 1 / 0.227883, 1 / 0.160585, 1 / 0.127711,
                   1 / 0.252668]

#: Sizes of the published feature files: text dims, speakers, classes, dialogue lengths.
SIZES = {
    'dialoguegcn': {
        'iemocap': dict(dims=dict(text=100), speakers=2, classes=6, lengths=[62, 48, 33, 24]),
        'meld': dict(dims=dict(text=600), speakers=9, classes=7,
                     lengths=[24, 17, 12, 9, 6, 3, 2, 1]),
    },
    'mmgcn': {
        'iemocap': dict(dims=dict(text=100, audio=1582, visual=342), speakers=2, classes=6,
                        lengths=[62, 48, 33, 24]),
        'meld': dict(dims=dict(text=600, audio=300, visual=342), speakers=9, classes=7,
                     lengths=[24, 17, 12, 9, 6, 3, 2, 1]),
    },
    # part 2: the RoBERTa text of both published feature files
    'm3net': {
        'iemocap': dict(dims=dict(text=1024, audio=1582, visual=342), speakers=2, classes=6,
                        lengths=[62, 48, 33, 24]),
        'meld': dict(dims=dict(text=1024, audio=300, visual=342), speakers=9, classes=7,
                     lengths=[24, 17, 12, 9, 6, 3, 2, 1]),
    },
    'graphsmile': {
        'iemocap': dict(dims=dict(text=1024, audio=1582, visual=342), speakers=2, classes=6,
                        lengths=[62, 48, 33, 24]),
        'meld': dict(dims=dict(text=1024, audio=300, visual=342), speakers=9, classes=7,
                     lengths=[24, 17, 12, 9, 6, 3, 2, 1]),
    },
}


# ---------------------------------------------------------------- shims (old APIs)
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


class _LegacyIndexNumpy:
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


@contextlib.contextmanager
def cpu_only():
    """``.cuda()`` is a no-op while the published code runs (MMGCN calls it always)."""
    saved = torch.Tensor.cuda, nn.Module.cuda
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self
    try:
        yield
    finally:
        torch.Tensor.cuda, nn.Module.cuda = saved


def import_published(method: str, folder: str):
    """The published ``model`` module from the user's checkout, with the shims."""
    if method in PART2:
        from zoo_parity_part2 import import_part2
        return import_part2(method, folder)
    files = {'dialoguegcn': ['model.py'], 'mmgcn': ['model.py', 'model_GCN.py', 'model_mm.py']}
    missing = [f for f in files[method] if not osp.isfile(osp.join(folder, f))]
    if missing:
        raise SystemExit(f'--published-code {folder}: no {missing} there; give the '
                         + ('DialogueGCN folder of declare-lab/conv-emotion'
                            if method == 'dialoguegcn' else 'hujingwen6666/MMGCN checkout'))
    sys.modules.setdefault('ipdb', types.ModuleType('ipdb'))
    import torch_geometric.nn as pyg_nn
    saved = pyg_nn.RGCNConv
    if method == 'dialoguegcn':
        pyg_nn.RGCNConv = legacy_rgcn_class()   # for the published import only
    sys.path.insert(0, osp.abspath(folder))
    try:
        for name in ('model', 'model_GCN', 'model_mm'):
            sys.modules.pop(name, None)
        module = importlib.import_module('model')
    finally:
        sys.path.pop(0)
        pyg_nn.RGCNConv = saved
    if method == 'dialoguegcn':
        module.np = _LegacyIndexNumpy(np)
    else:
        sys.modules['model_mm'].np = _LegacyIndexNumpy(np)
    return module


# ---------------------------------------------------------------- the two models
def build_pair(method: str, module, size: dict, dropout: float):
    """(published model, vega_mm backbone, vega_mm head) with the published settings."""
    dims, S, C = size['dims'], size['speakers'], size['classes']
    if method == 'dialoguegcn':
        pub = module.DialogueGCNModel(
            'LSTM', dims['text'], 150, 150, 100, 100, 100, 100, n_speakers=S,
            max_seq_len=110, window_past=10, window_future=10, n_classes=C,
            dropout=dropout, nodal_attention=True, no_cuda=True)
        ours = MODELS.build(dict(
            type='DialogueGCNBackbone', input_dims=dims, hidden_dim=100, context_dim=100,
            num_speakers=S, max_len=110, window_past=10, window_future=10, num_bases=30,
            nodal_attention=True, dropout=dropout))
    else:
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
    weights = IEMOCAP_WEIGHTS if C == 6 else None
    head = MODELS.build(dict(
        type='LinearLabelHead', num_classes=C, in_channels=ours.hidden_dim,
        branches=('fused', ), dropout=dropout,
        loss=dict(class_weight=weights, branch_weights=dict(fused=1.0), kd_loss_weight=0.0)))
    return pub, ours, head


def weight_map(method: str, pub: nn.Module, ours: nn.Module,
               head: nn.Module) -> List[Tuple[str, str, Optional[torch.Tensor]]]:
    """(published name, vega_mm name, column permutation or None) for every vega_mm
    parameter."""
    pairs = []
    if method == 'dialoguegcn':
        for n, _ in pub.lstm.named_parameters():
            pairs.append((f'lstm.{n}', f'backbone.context.{n}', None))
        pairs += [('att_model.scalar.weight', 'backbone.edge_attention.weight', None),
                  ('graph_net.conv1.basis', 'backbone.rgcn.weight', None),
                  ('graph_net.conv1.att', 'backbone.rgcn.comp', None),
                  ('graph_net.conv1.root', 'backbone.rgcn.root', None),
                  ('graph_net.conv1.bias', 'backbone.rgcn.bias', None)]
        for n, _ in pub.graph_net.conv2.named_parameters():
            pairs.append((f'graph_net.conv2.{n}', f'backbone.gconv.{n}', None))
        for p in ('weight', 'bias'):
            pairs += [(f'graph_net.matchatt.transform.{p}', f'backbone.node_attention.{p}', None),
                      (f'graph_net.linear.{p}', f'backbone.linear.{p}', None),
                      (f'graph_net.smax_fc.{p}', f'head.classifiers.fused.1.{p}', None)]
        return pairs
    for n, _ in pub.lstm_l.named_parameters():
        pairs.append((f'lstm_l.{n}', f'backbone.text_lstm.{n}', None))
    for p in ('weight', 'bias'):
        pairs += [(f'linear_l.{p}', f'backbone.proj.text.{p}', None),
                  (f'linear_a.{p}', f'backbone.proj.audio.{p}', None),
                  (f'linear_v.{p}', f'backbone.proj.visual.{p}', None),
                  (f'graph_model.graph_net.fcs.0.{p}', f'backbone.input_fc.{p}', None)]
    pairs.append(('graph_model.speaker_embeddings.weight',
                  'backbone.speaker_embedding.weight', None))
    for i in range(len(ours.convs)):
        pairs.append((f'graph_model.graph_net.convs.{i}.weight',
                      f'backbone.convs.{i}.weight', None))
    # published slots a, v, l; vega_mm's t, a, v
    slot = ours.slot_dim
    perm = torch.cat([torch.arange(slot) + k * slot for k in (2, 0, 1)])
    pairs += [('smax_fc.weight', 'head.classifiers.fused.1.weight', perm),
              ('smax_fc.bias', 'head.classifiers.fused.1.bias', None)]
    return pairs


def load_published_weights(pairs, pub: nn.Module, ours: nn.Module, head: nn.Module) -> None:
    pub_params = dict(pub.named_parameters())
    mine = {**{f'backbone.{k}': v for k, v in ours.named_parameters()},
            **{f'head.{k}': v for k, v in head.named_parameters()}}
    mapped = {o for _, o, _ in pairs}
    if mapped != set(mine):
        raise SystemExit(f'weight map incomplete: {sorted(set(mine) - mapped)}')
    with torch.no_grad():
        for p_name, o_name, perm in pairs:
            src = pub_params[p_name]
            mine[o_name].copy_(src[:, perm] if perm is not None else src)


# ---------------------------------------------------------------- batches
def make_batch(size: dict, lengths: Sequence[int], seed: int):
    gen = torch.Generator().manual_seed(seed)
    B, L, S = len(lengths), max(lengths), size['speakers']
    mask = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    feats = {m: torch.randn(B, L, d, generator=gen) * mask[..., None]
             for m, d in size['dims'].items()}
    speakers = torch.randint(0, S, (B, L), generator=gen).masked_fill(~mask, S)
    labels = torch.randint(0, size['classes'], (int(mask.sum()), ), generator=gen)
    qmask = F.one_hot(speakers, S + 1)[..., :S].float().transpose(0, 1)      # [L, B, S]
    pub_inputs = dict(U={m: x.transpose(0, 1) for m, x in feats.items()}, qmask=qmask,
                      umask=mask.float(), lengths=list(lengths))
    return feats, mask, speakers, labels, pub_inputs


def run_published(method: str, pub: nn.Module, inp: dict):
    U = inp['U']
    with cpu_only():
        if method == 'dialoguegcn':
            return pub(U['text'], inp['qmask'], inp['umask'], inp['lengths'])
        return pub(U['text'], inp['qmask'], inp['umask'], inp['lengths'], U['audio'],
                   U['visual'])


def run_ours(ours, head, feats, mask, speakers):
    feat = ours(feats, mask, speakers)
    return F.log_softmax(head(feat)['fused'], dim=-1)


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


def pack_published_lstm(method: str, pub: nn.Module, lengths: Sequence[int]) -> None:
    """Make the published (sequence-first) LSTM skip the padding, as vega_mm's does: the
    control that shows the mixed-length difference is the padding and nothing else."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    lstm = pub.lstm if method == 'dialoguegcn' else pub.lstm_l
    forward = lstm.forward

    def packed(U, hx=None):
        y, h = forward(pack_padded_sequence(U, torch.tensor(lengths), enforce_sorted=False))
        return pad_packed_sequence(y, total_length=U.shape[0])[0], h

    lstm.forward = packed


#: (layout, packed published LSTM, counted as a check)
LAYOUTS = (('equal lengths', False, True),
           ('mixed lengths', False, False),
           ('mixed lengths, published LSTM packed', True, True))


def check_size(method, module, name, size, seed, rtol, gtol):
    """Rows (what, difference, within tolerance, counted) for one size."""
    if method in PART2:
        from zoo_parity_part2 import check_size_part2
        return check_size_part2(method, module, name, size, seed, rtol, gtol)
    rows = []
    for layout, pack, counted in LAYOUTS:
        lengths = size['lengths'] if layout.startswith('mixed') else \
            [max(size['lengths'])] * 2
        torch.manual_seed(seed)
        pub, ours, head = build_pair(method, module, size, dropout=0.0)
        pairs = weight_map(method, pub, ours, head)
        load_published_weights(pairs, pub, ours, head)
        if pack:
            pack_published_lstm(method, pub, lengths)
        feats, mask, speakers, labels, inp = make_batch(size, lengths, seed)
        tag = f'{name}, {layout} ({len(lengths)} dialogues, {sum(lengths)} utterances)'

        def add(what, diff, tol, always=False):
            rows.append((f'{tag}: {what}', diff, diff <= tol, counted or always))

        # eval-mode outputs
        pub.eval(), ours.eval(), head.eval()
        with torch.no_grad():
            p_out = run_published(method, pub, inp)
            o_out = run_ours(ours, head, feats, mask, speakers)
        add('log-probabilities (eval)', rel(o_out, p_out[0]), rtol)
        if layout == 'mixed lengths':
            # the longest dialogue's rows: no padding reaches them in either model
            n0 = lengths[0]
            add('log-probabilities of the longest dialogue', rel(o_out[:n0], p_out[0][:n0]),
                rtol, always=True)
        if method == 'dialoguegcn':
            for what, diff, ok in compare_edges(ours, feats, mask, speakers, p_out, rtol):
                rows.append((f'{tag}: {what}', diff, ok, counted))
        # loss and one training step's gradients (dropout 0 in both)
        pub.train(), ours.train(), head.train()
        p_lp = run_published(method, pub, inp)[0]
        weights = torch.tensor(IEMOCAP_WEIGHTS) if size['classes'] == 6 else None
        p_loss = F.nll_loss(p_lp, labels, weight=weights)
        o_loss = head.loss_module(head(ours(feats, mask, speakers)), labels)['loss_cls']
        add(f'loss ({float(p_loss.detach()):.6f})',
            abs(float(o_loss.detach()) - float(p_loss.detach())) / abs(float(p_loss.detach())),
            rtol)
        p_loss.backward()
        o_loss.backward()
        pub_params = dict(pub.named_parameters())
        mine = {**{f'backbone.{k}': v for k, v in ours.named_parameters()},
                **{f'head.{k}': v for k, v in head.named_parameters()}}
        worst, worst_name = 0.0, ''
        for p_name, o_name, perm in pairs:
            g_pub = pub_params[p_name].grad
            g_ours = mine[o_name].grad
            if g_pub is None or g_ours is None:
                raise SystemExit(f'{p_name} / {o_name}: no gradient')
            g_pub = g_pub[:, perm] if perm is not None else g_pub
            err = float((g_ours - g_pub).norm() / g_pub.norm().clamp_min(1e-30))
            if err >= worst:
                worst, worst_name = err, o_name
        add(f'gradients of {len(pairs)} tensors, worst ({worst_name}) relative to its norm',
            worst, gtol)
    return rows


def compare_edges(ours, feats, mask, speakers, p_out, rtol):
    """DialogueGCN's edges, relation types and weights against the published ones."""
    _, p_index, p_norm, p_type, _ = p_out
    with torch.no_grad():
        x = torch.cat([feats[m] for m in ours.modalities], dim=-1)
        from vega_mm.models.backbones.graph_utils import packed_lstm
        g = packed_lstm(ours.context, x, mask.sum(1))
        o_index, o_type, o_weight = ours.build_graph(g, mask, speakers)
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
    b = torch.tensor([pub_edges[k][1] for k in keys])
    d = rel(a, b)
    rows.append(('edge weights', d, d <= rtol))
    return rows


# ---------------------------------------------------------------- speed
def speed(method, module, size, steps: int, seed: int) -> Dict[str, float]:
    if method in PART2:
        from zoo_parity_part2 import speed_part2
        return speed_part2(method, module, size, steps, seed)
    torch.manual_seed(seed)
    pub, ours, head = build_pair(method, module, size, dropout=0.4)
    load_published_weights(weight_map(method, pub, ours, head), pub, ours, head)
    feats, mask, speakers, labels, inp = make_batch(size, size['lengths'], seed)
    weights = torch.tensor(IEMOCAP_WEIGHTS) if size['classes'] == 6 else None
    n = int(mask.sum())
    out = {}

    def step_pub():
        lp = run_published(method, pub, inp)[0]
        return F.nll_loss(lp, labels, weight=weights)

    def step_ours():
        return head.loss_module(head(ours(feats, mask, speakers)), labels)['loss_cls']

    for name, params, step, modules in (
            ('published', list(pub.parameters()), step_pub, (pub, )),
            ('vega_mm', [*ours.parameters(), *head.parameters()], step_ours, (ours, head))):
        opt = torch.optim.Adam(params, lr=3e-4)
        for m in modules:
            m.train()
        times = []
        for i in range(steps + 1):
            t = time.perf_counter()
            opt.zero_grad()
            step().backward()
            opt.step()
            if i:   # the first step warms up
                times.append(time.perf_counter() - t)
        out[name] = n / (sum(times) / len(times))
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--method', required=True, choices=sorted(SIZES))
    p.add_argument('--published-code', required=True,
                   help='checkout of the published code: the DialogueGCN folder of '
                   'declare-lab/conv-emotion, hujingwen6666/MMGCN, feiyuchen7/M3NET or '
                   'lijfrank-open/GraphSmile')
    p.add_argument('--sizes', nargs='+', default=['iemocap', 'meld'],
                   choices=['iemocap', 'meld'])
    p.add_argument('--rtol', type=float, default=1e-5)
    p.add_argument('--gtol', type=float, default=1e-4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--speed', action='store_true',
                   help='also time training steps of both (utterances / s)')
    p.add_argument('--steps', type=int, default=5, help='timed steps per model (--speed)')
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    module = import_published(args.method, args.published_code)
    torch.set_default_dtype(torch.float32)
    failed = 0
    print(f'{args.method}: vega_mm against {osp.abspath(args.published_code)} '
          f'(torch {torch.__version__}, {torch.get_num_threads()} thread(s))')
    print(f'| check | difference | within tolerance (rtol {args.rtol:g}, gtol {args.gtol:g}) |')
    print('|---|---:|---|')
    for name in args.sizes:
        for what, diff, ok, counted in check_size(args.method, module, name,
                                                  SIZES[args.method][name], args.seed,
                                                  args.rtol, args.gtol):
            failed += counted and not ok
            verdict = ('yes' if ok else 'NO') if counted else \
                ('yes' if ok else 'no (not counted: the reason in brackets)' if args.method in PART2
                 else 'no: the published LSTM reads the padding (not counted)')
            print(f'| {what} | {diff:.2e} | {verdict} |', flush=True)
    if args.speed:
        print('\n| shapes | published utt/s | vega_mm utt/s | vega_mm / published |')
        print('|---|---:|---:|---:|')
        for name in args.sizes:
            s = speed(args.method, module, SIZES[args.method][name], args.steps, args.seed)
            print(f'| {name} {SIZES[args.method][name]["lengths"]} | {s["published"]:.0f} | '
                  f'{s["vega_mm"]:.0f} | {s["vega_mm"] / s["published"]:.2f} |', flush=True)
    print(f'\n{failed} check(s) outside tolerance')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())

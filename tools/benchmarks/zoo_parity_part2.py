"""M3Net and GraphSmile in ``published_parity.py`` (the model zoo's part 2).

    python tools/benchmarks/published_parity.py --method m3net --published-code ~/src/M3NET
    python tools/benchmarks/published_parity.py --method graphsmile \\
        --published-code ~/src/GraphSmile

Builds the published model from the checkout given (feiyuchen7/M3NET's ``Model`` with
``--graph_type hyper --mm_fusion_mthd concat_DHT --base-model GRU --norm BN``;
lijfrank-open/GraphSmile's ``GraphSmile`` with ``--textf_mode textf0``, each with its
README's settings for the size), and vega_mm's backbone and head with the same settings;
the published weights are made non-trivial first (random BatchNorm statistics and
affine, random learned per-position hyperedge / node / edge weights) and copied into
vega_mm's. Then, on random batches at IEMOCAP and MELD sizes:

- eval-mode log-probabilities (GraphSmile also the sentiment and shift logits) within
  ``--rtol`` of the largest magnitude;
- the loss: M3Net's class-weighted NLL on IEMOCAP (its NLL on MELD, which vega_mm trains;
  the published MELD loss is a focal-style loss, docs/model_zoo.md); GraphSmile's
  ``NLL(emotion) + l1 NLL(sentiment) + l2 NLL(shift)`` with IEMOCAP's sentiments derived
  from the emotions as published (``source='derive'``) and MELD's given per utterance
  (``source='samples'``, as MELD ships them);
- one training step's gradients (dropout off) within ``--gtol`` of each gradient's norm.

Layouts: dialogues of equal length (every check counted); mixed lengths, where the
published models read the padding and vega_mm's do not: the BatchNorm statistics of
training mode count the padding rows (both models), and M3Net's backward GRU starts in
the padding, so those rows report the difference as measured and are not counted,
except GraphSmile's eval-mode outputs (its BatchNorm then uses running statistics and
nothing else reads the padding: counted) and the longest dialogue's rows of M3Net; and
for M3Net the same mixed lengths with the published GRU run on packed sequences, the
control (eval mode) that shows the padding is the only difference.

Shims for the published code, here only: ``torch_scatter.scatter_add`` (M3Net's
hypergraph layer; PyG 2 has ``torch_geometric.utils.scatter``), PyG 1.x's
``torch_geometric.nn.pool.topk_pool.topk`` (imported, unused), PyG 1.x's reading of
``propagate``'s ``size`` under ``flow='target_to_source'`` (:func:`legacy_propagate_size`),
a no-op ``.cuda()``, an empty ``ipdb``.
"""
import contextlib
import importlib
import io
import os.path as osp
import sys
import time
import types
from argparse import Namespace
from typing import Dict, List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from published_parity import IEMOCAP_WEIGHTS, cpu_only, rel
from vega_mm.models.heads.graphsmile_head import IEMOCAP_SENTIMENTS
from vega_mm.registry import MODELS
from vega_mm.structures import ConversationDataSample

#: the README's settings per size
M3NET = dict(iemocap=dict(node_dim=512, num_K=4, dataset='IEMOCAP', text_proj=True),
             meld=dict(node_dim=1024, num_K=3, dataset='MELD', text_proj=False))
GRAPHSMILE = dict(iemocap=dict(hidden=512, win=17, layers=7, shift=19, lambd=(1.0, 1.0, 0.7)),
                  meld=dict(hidden=384, win=3, layers=5, shift=3, lambd=(1.0, 0.5, 0.2)))


# ---------------------------------------------------------------- shims and import
def _shim_modules() -> None:
    sys.modules.setdefault('ipdb', types.ModuleType('ipdb'))
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
        topk_pool.topk = None   # imported by M3Net's model_hyper.py, never called


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


def import_part2(method: str, folder: str):
    files = {'m3net': ['model.py', 'model_hyper.py', 'HypergraphConv.py', 'high_fre_conv.py',
                       'model_GCN.py'],
             'graphsmile': ['model.py', 'module.py', 'utils.py']}[method]
    missing = [f for f in files if not osp.isfile(osp.join(folder, f))]
    if missing:
        raise SystemExit(f'--published-code {folder}: no {missing} there; give a '
                         + ('feiyuchen7/M3NET' if method == 'm3net' else
                            'lijfrank-open/GraphSmile') + ' checkout')
    _shim_modules()
    sys.path.insert(0, osp.abspath(folder))
    try:
        for name in ('model', 'model_GCN', 'model_hyper', 'HypergraphConv', 'high_fre_conv',
                     'module', 'utils'):
            sys.modules.pop(name, None)
        module = importlib.import_module('model')
    finally:
        sys.path.pop(0)
    return module


# ---------------------------------------------------------------- the two models
def build_pair(method: str, module, name: str, size: dict, dropout: float):
    """(published model, vega_mm backbone, vega_mm head)."""
    dims, S, C = size['dims'], size['speakers'], size['classes']
    weights = IEMOCAP_WEIGHTS if C == 6 else None
    if method == 'm3net':
        s = M3NET[name]
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
        head = MODELS.build(dict(
            type='LinearLabelHead', num_classes=C, in_channels=ours.hidden_dim,
            branches=('fused', ), dropout=dropout,
            loss=dict(class_weight=weights, branch_weights=dict(fused=1.0),
                      kd_loss_weight=0.0)))
        return pub, ours, head
    s = GRAPHSMILE[name]
    args = Namespace(textf_mode='textf0', no_cuda=True, win=[s['win'], s['win']],
                     modals='avl', shift_win=s['shift'], hidden_dim=s['hidden'], drop=dropout,
                     heter_n_layers=[s['layers']] * 3)
    pub = module.GraphSmile(args, [dims['text'], dims['visual'], dims['audio']], C)
    ours = MODELS.build(dict(
        type='GraphSmileBackbone', input_dims=dims, hidden_dim=s['hidden'],
        window_past=s['win'], window_future=s['win'], num_layers=s['layers'],
        dropout=dropout, num_speakers=S))
    sentiment = dict(shift_window=s['shift'], loss_weights=s['lambd'][1:])
    sentiment.update(dict(source='derive', emotion_to_sentiment=list(IEMOCAP_SENTIMENTS))
                     if C == 6 else dict(source='samples'))
    head = MODELS.build(dict(
        type='GraphSmileHead', num_classes=C, in_channels=ours.hidden_dim,
        branches=('fused', ), vega_head=None, sentiment=sentiment,
        label_head=dict(type='LinearLabelHead', dropout=0.0,
                        loss=dict(branch_weights=dict(fused=1.0), kd_loss_weight=0.0))))
    return pub, ours, head


def weight_map(method: str, pub: nn.Module, ours: nn.Module) -> List[tuple]:
    """(published names, vega_mm name, how): ``how`` None (as is), a column index, or
    ``'T'`` (transposed); several published names: one tensor used several times by the
    published model (its gradient is their sum)."""
    pairs = []
    if method == 'm3net':
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
    for p in ('weight', 'bias'):
        pairs += [(('batchnorms_t.0.' + p, ), f'backbone.text_norm.{p}', None),
                  ((f'dim_layer_t.0.{p}', ), f'backbone.proj.text.0.{p}', None),
                  ((f'dim_layer_v.0.{p}', ), f'backbone.proj.visual.0.{p}', None),
                  ((f'dim_layer_a.0.{p}', ), f'backbone.proj.audio.0.{p}', None),
                  ((f'modal_fusion.0.{p}', ), f'backbone.modal_fusion.0.{p}', None),
                  ((f'emo_output.{p}', ), f'head.label_head.classifiers.fused.1.{p}', None),
                  ((f'sen_output.{p}', ), f'head.sentiment_classifier.{p}', None),
                  ((f'senshift.shift_output_layer.0.{p}', ), f'head.shift_classifier.{p}',
                   None)]
    for short, pair in (('tv', 'text_visual'), ('ta', 'text_audio'), ('va', 'visual_audio')):
        g = f'hetergconv_{short}'
        pairs.append(((f'{g}.edge_weight', ), f'backbone.graphs.{pair}.edge_weight', None))
        for i in range(len(ours.graphs[pair].convs)):
            pairs += [((f'{g}.hetergcn_layers.{i}.hetergconv.weight', ),
                       f'backbone.graphs.{pair}.convs.{i}.lin.weight', 'T'),
                      ((f'{g}.hetergcn_layers.{i}.hetergconv.bias', ),
                       f'backbone.graphs.{pair}.convs.{i}.bias', None)]
            for p in ('weight', 'bias'):
                pairs.append(((f'{g}.fc_layers.{i}.0.{p}', ),
                              f'backbone.graphs.{pair}.fcs.{i}.0.{p}', None))
    return pairs


def _take(t: torch.Tensor, how):
    if how is None:
        return t
    if isinstance(how, str):
        return t.t()
    return t[:, how]


def _ours(ours, head) -> Dict[str, nn.Parameter]:
    return {**{f'backbone.{k}': v for k, v in ours.named_parameters()},
            **{f'head.{k}': v for k, v in head.named_parameters()}}


def randomise_and_load(method: str, pub, ours, head, pairs, seed: int) -> None:
    """Random BatchNorm statistics / affine and per-position weights in the published
    model (its four M3Net text BatchNorms equal), then every mapped tensor into vega_mm's."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        bns = [pub.normBNa, pub.normBNb, pub.normBNc, pub.normBNd] if method == 'm3net' \
            else [pub.batchnorms_t[0]]
        first = bns[0]
        first.running_mean.copy_(torch.randn(first.num_features, generator=gen) * 0.3)
        first.running_var.copy_(torch.rand(first.num_features, generator=gen) + 0.5)
        first.weight.copy_(torch.rand(first.num_features, generator=gen) + 0.5)
        first.bias.copy_(torch.randn(first.num_features, generator=gen) * 0.1)
        for bn in bns[1:]:
            bn.load_state_dict(first.state_dict())
        ours.text_norm.load_state_dict(first.state_dict())
        for name, p in pub.named_parameters():
            if name.endswith(('hyperedge_weight', 'EW_weight', 'edge_weight')):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.5)
            if name.startswith('graph_model.hyperconv') and name.endswith('bias'):
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)   # zeros at init
        pub_params = dict(pub.named_parameters())
        mine = _ours(ours, head)
        mapped = {o for _, o, _ in pairs}
        if mapped != set(mine):
            raise SystemExit(f'weight map incomplete: {sorted(set(mine) - mapped)}')
        for names, o_name, how in pairs:
            mine[o_name].copy_(_take(pub_params[names[0]], how))


# ---------------------------------------------------------------- batches and runs
def make_batch(size: dict, lengths: Sequence[int], seed: int):
    gen = torch.Generator().manual_seed(seed)
    B, L, S, C = len(lengths), max(lengths), size['speakers'], size['classes']
    mask = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    feats = {m: torch.randn(B, L, d, generator=gen) * mask[..., None]
             for m, d in size['dims'].items()}
    speakers = torch.randint(0, S, (B, L), generator=gen).masked_fill(~mask, S)
    N = int(mask.sum())
    labels = torch.randint(0, C, (N, ), generator=gen)
    if C == 6:   # IEMOCAP: derived as published
        sentiments = torch.tensor(IEMOCAP_SENTIMENTS)[labels]
    else:        # MELD: shipped per utterance
        sentiments = torch.randint(0, 3, (N, ), generator=gen)
    qmask = F.one_hot(speakers, S + 1)[..., :S].float().transpose(0, 1)      # [L, B, S]
    samples, start = [], 0
    for n in lengths:
        s = ConversationDataSample()
        s.set_gt_label(labels[start:start + n])
        s.set_field(sentiments[start:start + n], 'gt_sentiment')
        samples.append(s)
        start += n
    U = {m: x.transpose(0, 1) for m, x in feats.items()}
    return dict(feats=feats, mask=mask, speakers=speakers, labels=labels,
                sentiments=sentiments, samples=samples, U=U, qmask=qmask,
                umask=mask.float(), lengths=list(lengths))


def run_published(method: str, pub, b: dict):
    """Published outputs: (emotion log-probabilities, sentiment logits, shift logits)."""
    U = b['U']
    with cpu_only():
        if method == 'm3net':
            t = U['text']
            lp = pub([t, t, t, t], b['qmask'], b['umask'], b['lengths'], U['audio'],
                     U['visual'], 0)[0]
            return lp, None, None
        t = U['text']
        emo, sen, sft, _ = pub(t, t, t, t, U['visual'], U['audio'], b['umask'].t(),
                               b['qmask'], b['lengths'])
        return F.log_softmax(emo, -1), sen, sft


def run_ours(method: str, ours, head, b: dict):
    feat = ours(b['feats'], b['mask'], b['speakers'])
    if method == 'm3net':
        return F.log_softmax(head(feat)['fused'], -1), None, None
    lp = F.log_softmax(head(feat)['fused'], -1)
    sen, sft, _ = head.sentiment_logits(feat['fused'], b['lengths'])
    return lp, sen, sft


def published_loss(method: str, module, pub, b: dict, size: dict, name: str):
    lp, sen, sft = run_published(method, pub, b)
    if method == 'm3net':
        w = torch.tensor(IEMOCAP_WEIGHTS) if size['classes'] == 6 else None
        return F.nll_loss(lp, b['labels'], weight=w)
    s = GRAPHSMILE[name]
    shift = sys.modules['module'].build_match_sen_shift_label(s['shift'], b['lengths'],
                                                              b['sentiments'])
    lam = s['lambd']
    return (lam[0] * F.nll_loss(lp, b['labels'])
            + lam[1] * F.nll_loss(F.log_softmax(sen, -1), b['sentiments'])
            + lam[2] * F.nll_loss(F.log_softmax(sft, -1), shift))


def our_loss(method: str, ours, head, b: dict):
    feat = ours(b['feats'], b['mask'], b['speakers'])
    if method == 'm3net':
        return head.loss_module(head(feat), b['labels'])['loss_cls']
    return sum(head.loss(feat, b['samples']).values())


def pack_published_gru(pub, lengths: Sequence[int]) -> None:
    """The control: M3Net's published GRU on packed sequences, as vega_mm's."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    forward = pub.gru_l.forward

    def packed(U, hx=None):
        y, h = forward(pack_padded_sequence(U, torch.tensor(lengths), enforce_sorted=False))
        return pad_packed_sequence(y, total_length=U.shape[0])[0], h

    pub.gru_l.forward = packed


def check_size_part2(method, module, name, size, seed, rtol, gtol):
    """Rows (what, difference, within tolerance, counted) for one size."""
    rows = []
    layouts = [('equal lengths', False), ('mixed lengths', False)]
    if method == 'm3net':
        layouts.append(('mixed lengths, published GRU packed', True))
    for layout, pack in layouts:
        equal = layout == 'equal lengths'
        lengths = [max(size['lengths'])] * 2 if equal else size['lengths']
        torch.manual_seed(seed)
        pub, ours, head = build_pair(method, module, name, size, dropout=0.0)
        pairs = weight_map(method, pub, ours)
        randomise_and_load(method, pub, ours, head, pairs, seed)
        if pack:
            pack_published_gru(pub, lengths)
        b = make_batch(size, lengths, seed)
        tag = f'{name}, {layout} ({len(lengths)} dialogues, {sum(lengths)} utterances)'
        eval_counted = equal or pack or method == 'graphsmile'
        why_eval = 'the published GRU reads the padding'
        why_train = 'the published BatchNorm statistics count the padding' + (
            ' and its GRU reads it' if method == 'm3net' else '')

        def add(what, diff, tol, counted, why=''):
            rows.append((f'{tag}: {what}', diff, diff <= tol, counted, why))

        pub.eval(), ours.eval(), head.eval()
        with torch.no_grad():
            p_out = run_published(method, pub, b)
            o_out = run_ours(method, ours, head, b)
        add('log-probabilities (eval)', rel(o_out[0], p_out[0]), rtol, eval_counted, why_eval)
        if not eval_counted:
            n0 = lengths[0]
            add('log-probabilities of the longest dialogue (eval)',
                rel(o_out[0][:n0], p_out[0][:n0]), rtol, True)
        if method == 'graphsmile':
            add('sentiment logits (eval)', rel(o_out[1], p_out[1]), rtol, True)
            add('sentiment-shift logits (eval)', rel(o_out[2], p_out[2]), rtol, True)
        if pack:
            continue   # the control is of the eval outputs (training mode: BatchNorm)
        pub.train(), ours.train(), head.train()
        p_loss = published_loss(method, module, pub, b, size, name)
        o_loss = our_loss(method, ours, head, b)
        pv = float(p_loss.detach())
        add(f'loss ({pv:.6f})', abs(float(o_loss.detach()) - pv) / abs(pv), rtol, equal,
            why_train)
        p_loss.backward()
        o_loss.backward()
        pub_params = dict(pub.named_parameters())
        mine = _ours(ours, head)
        worst, worst_name = 0.0, ''
        for names, o_name, how in pairs:
            grads = [pub_params[n].grad for n in names]
            if any(g is None for g in grads) or mine[o_name].grad is None:
                raise SystemExit(f'{names} / {o_name}: no gradient')
            g_pub = _take(sum(grads), how)
            g_ours = mine[o_name].grad
            err = float((g_ours - g_pub).norm() / g_pub.norm().clamp_min(1e-30))
            if err >= worst:
                worst, worst_name = err, o_name
        add(f'gradients of {len(pairs)} tensors, worst ({worst_name}) relative to its norm',
            worst, gtol, equal, why_train)
    return [(w, d, ok, counted) if counted or ok else (w + f' [{why}]', d, ok, counted)
            for w, d, ok, counted, why in rows]


# ---------------------------------------------------------------- speed
def speed_part2(method, module, size, steps: int, seed: int) -> Dict[str, float]:
    name = 'iemocap' if size['classes'] == 6 else 'meld'
    torch.manual_seed(seed)
    dropout = 0.5 if method == 'm3net' else 0.2
    pub, ours, head = build_pair(method, module, name, size, dropout=dropout)
    randomise_and_load(method, pub, ours, head, weight_map(method, pub, ours), seed)
    b = make_batch(size, size['lengths'], seed)
    n = len(b['labels'])
    out = {}
    for label, params, step, modules in (
            ('published', list(pub.parameters()),
             lambda: published_loss(method, module, pub, b, size, name), (pub, )),
            ('vega_mm', [*ours.parameters(), *head.parameters()],
             lambda: our_loss(method, ours, head, b), (ours, head))):
        opt = torch.optim.Adam(params, lr=1e-4)
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
        out[label] = n / (sum(times) / len(times))
    return out

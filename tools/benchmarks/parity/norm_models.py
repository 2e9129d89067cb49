"""The checks of M3Net and GraphSmile (the model zoo's part 2: a BatchNorm over the
text features, learned per-position weights).

The published weights are made non-trivial first (random BatchNorm statistics and
affine, random learned per-position hyperedge / node / edge weights) and copied into
vega_mm's. Then, on random batches at IEMOCAP and MELD sizes: eval-mode outputs within
``--rtol`` of the largest magnitude; the loss within ``--rtol``; one training step's
gradients (dropout off) within ``--gtol`` of each gradient's norm.

Layouts: dialogues of equal length (every check counted); mixed lengths, where the
published models read the padding and vega_mm's do not: the BatchNorm statistics of
training mode count the padding rows (both models), and M3Net's backward GRU starts in
the padding, so those rows report the difference as measured and are not counted,
except GraphSmile's eval-mode outputs (its BatchNorm then uses running statistics and
nothing else reads the padding: counted) and the longest dialogue's rows of M3Net; and
for M3Net the same mixed lengths with the published GRU run on packed sequences, the
control (eval mode) that shows the padding is the only difference.

A method module gives ``SIZES``, ``SPEED``, ``PACKED_RNN`` (the published RNN of the
packed control, or None), ``EVAL_READS_PADDING``, ``WHY_TRAIN``, ``build_pair(module,
name, size, dropout)`` -> (published, backbone, head), ``weight_map(pub, ours)``,
``text_norms(pub)``, ``make_batch(size, lengths, seed)``, ``run_published(pub,
batch)`` and ``run_ours(ours, head, batch)`` -> (emotion log-probabilities, ...),
``extra_rows(ours_out, published_out)`` -> (what, difference) of further eval-mode
outputs (counted), ``published_loss(pub, batch, size, name)`` and ``our_loss(ours,
head, batch)``.
"""
from typing import Dict

import torch

from .common import cpu_only, load_mapped, pack_rnn, rel, training_speed, worst_gradient

#: the verdict of a row not counted (its reason is in brackets after it)
NOT_COUNTED = 'no (not counted: the reason in brackets)'


def randomise_and_load(method, pub, ours, head, pairs, seed: int) -> None:
    """Random BatchNorm statistics / affine and per-position weights in the published
    model (its text BatchNorms equal), then every mapped tensor into vega_mm's."""
    gen = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        bns = method.text_norms(pub)
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
    load_mapped(pairs, pub, ours, head)


def _pair(method, module, name: str, size: dict, dropout: float, seed: int):
    pub, ours, head = method.build_pair(module, name, size, dropout)
    pairs = method.weight_map(pub, ours)
    randomise_and_load(method, pub, ours, head, pairs, seed)
    return pub, ours, head, pairs


def check_size(method, module, name: str, size: dict, seed: int, rtol: float,
               gtol: float):
    """Rows (what, difference, within tolerance, counted) for one size."""
    rows = []
    layouts = [('equal lengths', False), ('mixed lengths', False)]
    if method.PACKED_RNN:
        layouts.append(('mixed lengths, published GRU packed', True))
    for layout, pack in layouts:
        equal = layout == 'equal lengths'
        lengths = [max(size['lengths'])] * 2 if equal else size['lengths']
        torch.manual_seed(seed)
        pub, ours, head, pairs = _pair(method, module, name, size, 0.0, seed)
        if pack:
            pack_rnn(pub, method.PACKED_RNN, lengths)
        b = method.make_batch(size, lengths, seed)
        tag = f'{name}, {layout} ({len(lengths)} dialogues, {sum(lengths)} utterances)'
        eval_counted = equal or pack or not method.EVAL_READS_PADDING
        why_eval = 'the published GRU reads the padding'

        def add(what, diff, tol, counted, why=''):
            rows.append((f'{tag}: {what}', diff, diff <= tol, counted, why))

        pub.eval(), ours.eval(), head.eval()
        with torch.no_grad(), cpu_only():
            p_out = method.run_published(pub, b)
            o_out = method.run_ours(ours, head, b)
        add('log-probabilities (eval)', rel(o_out[0], p_out[0]), rtol, eval_counted, why_eval)
        if not eval_counted:
            n0 = lengths[0]
            add('log-probabilities of the longest dialogue (eval)',
                rel(o_out[0][:n0], p_out[0][:n0]), rtol, True)
        for what, diff in method.extra_rows(o_out, p_out):
            add(what, diff, rtol, True)
        if pack:
            continue   # the control is of the eval outputs (training mode: BatchNorm)
        pub.train(), ours.train(), head.train()
        with cpu_only():
            p_loss = method.published_loss(pub, b, size, name)
        o_loss = method.our_loss(ours, head, b)
        pv = float(p_loss.detach())
        add(f'loss ({pv:.6f})', abs(float(o_loss.detach()) - pv) / abs(pv), rtol, equal,
            method.WHY_TRAIN)
        p_loss.backward()
        o_loss.backward()
        worst, worst_name = worst_gradient(pairs, pub, ours, head)
        add(f'gradients of {len(pairs)} tensors, worst ({worst_name}) relative to its norm',
            worst, gtol, equal, method.WHY_TRAIN)
    return [(w, d, ok, counted) if counted or ok else (w + f' [{why}]', d, ok, counted)
            for w, d, ok, counted, why in rows]


def speed(method, module, name: str, size: dict, steps: int,
          seed: int) -> Dict[str, float]:
    """Utterances per second of training steps of both, dropout on."""
    torch.manual_seed(seed)
    pub, ours, head, _ = _pair(method, module, name, size, method.SPEED['dropout'], seed)
    b = method.make_batch(size, size['lengths'], seed)

    def published():
        with cpu_only():
            return method.published_loss(pub, b, size, name)

    return training_speed(pub, ours, head, dict(
        published=published, vega_mm=lambda: method.our_loss(ours, head, b)),
        len(b['labels']), steps, method.SPEED['lr'])

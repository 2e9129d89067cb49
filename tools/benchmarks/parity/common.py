"""What the parity checks of every published method share: the sizes, the batches, the
weight copy, the gradient comparison, the training-speed run, and the shims every
published repository needs (a no-op ``.cuda()``, an empty ``ipdb``).

A weight map is a list of ``(published names, vega_mm name, how)``: ``how`` None (the
tensor as is), a column index (``t[:, how]``), or ``'T'`` (transposed); several
published names: one tensor the published model uses several times (its gradient is
their sum). vega_mm's names are ``backbone.*`` and ``head.*``.
"""
import contextlib
import importlib
import os.path as osp
import sys
import types
from typing import Callable, Dict, List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.benchmarking import training_step_times
from vega_mm.registry import MODELS

#: Published class weights of IEMOCAP (1 / class frequency, every repository).
IEMOCAP_WEIGHTS = [1 / 0.086747, 1 / 0.144406, 1 / 0.227883, 1 / 0.160585, 1 / 0.127711,
                   1 / 0.252668]
#: Dialogue lengths of the random batches at IEMOCAP and MELD sizes.
LENGTHS = dict(iemocap=[62, 48, 33, 24], meld=[24, 17, 12, 9, 6, 3, 2, 1])


def dataset_size(dims: Dict[str, int], name: str) -> dict:
    """A size: feature dims, speakers, classes and dialogue lengths of IEMOCAP or MELD."""
    iemocap = name == 'iemocap'
    return dict(dims=dims, speakers=2 if iemocap else 9, classes=6 if iemocap else 7,
                lengths=LENGTHS[name])


MapEntry = Tuple[Tuple[str, ...], str, object]


# ---------------------------------------------------------------- shims (old APIs)
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


def import_checkout(folder: str, files: Sequence[str], what: str,
                    modules: Sequence[str]) -> types.ModuleType:
    """The published ``model`` module of the checkout ``folder`` (an empty ``ipdb``
    stands in for the debugger it imports); ``files`` must be there (else: give
    ``what``); ``modules``: its module names, imported afresh."""
    missing = [f for f in files if not osp.isfile(osp.join(folder, f))]
    if missing:
        raise SystemExit(f'--published-code {folder}: no {missing} there; give {what}')
    sys.modules.setdefault('ipdb', types.ModuleType('ipdb'))
    sys.path.insert(0, osp.abspath(folder))
    try:
        for name in modules:
            sys.modules.pop(name, None)
        return importlib.import_module('model')
    finally:
        sys.path.pop(0)


def pack_rnn(owner: nn.Module, attr: str, lengths: Sequence[int]) -> None:
    """Make the published (sequence-first) RNN ``owner.attr`` skip the padding, as
    vega_mm's does: the control that shows the mixed-length difference is the padding
    and nothing else."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    rnn = getattr(owner, attr)
    forward = rnn.forward

    def packed(U, hx=None):
        y, h = forward(pack_padded_sequence(U, torch.tensor(lengths), enforce_sorted=False))
        return pad_packed_sequence(y, total_length=U.shape[0])[0], h

    rnn.forward = packed


def label_head(size: dict, ours: nn.Module, dropout: float) -> nn.Module:
    """vega_mm's ``LinearLabelHead`` as the published classifier: one linear layer on
    the fused feature, the class-weighted NLL of IEMOCAP (plain NLL on MELD)."""
    weights = IEMOCAP_WEIGHTS if size['classes'] == 6 else None
    return MODELS.build(dict(
        type='LinearLabelHead', num_classes=size['classes'], in_channels=ours.hidden_dim,
        branches=('fused', ), dropout=dropout,
        loss=dict(class_weight=weights, branch_weights=dict(fused=1.0), kd_loss_weight=0.0)))


# ---------------------------------------------------------------- weights and gradients
def take(t: torch.Tensor, how) -> torch.Tensor:
    """A published tensor as vega_mm's (see the module docstring)."""
    if how is None:
        return t
    if isinstance(how, str):
        return t.t()
    return t[:, how]


def ours_named(ours: nn.Module, head: nn.Module) -> Dict[str, nn.Parameter]:
    return {**{f'backbone.{k}': v for k, v in ours.named_parameters()},
            **{f'head.{k}': v for k, v in head.named_parameters()}}


def load_mapped(pairs: List[MapEntry], pub: nn.Module, ours: nn.Module,
                head: nn.Module) -> None:
    """Copy every mapped published tensor into vega_mm's (the map must cover them all)."""
    pub_params = dict(pub.named_parameters())
    mine = ours_named(ours, head)
    mapped = {o for _, o, _ in pairs}
    if mapped != set(mine):
        raise SystemExit(f'weight map incomplete: {sorted(set(mine) - mapped)}')
    with torch.no_grad():
        for names, o_name, how in pairs:
            mine[o_name].copy_(take(pub_params[names[0]], how))


def worst_gradient(pairs: List[MapEntry], pub: nn.Module, ours: nn.Module,
                   head: nn.Module) -> Tuple[float, str]:
    """The largest ``|g_ours - g_pub| / |g_pub|`` over the map, and its vega_mm name."""
    pub_params = dict(pub.named_parameters())
    mine = ours_named(ours, head)
    worst, worst_name = 0.0, ''
    for names, o_name, how in pairs:
        grads = [pub_params[n].grad for n in names]
        if any(g is None for g in grads) or mine[o_name].grad is None:
            raise SystemExit(f'{names} / {o_name}: no gradient')
        g_pub = take(sum(grads), how)
        err = float((mine[o_name].grad - g_pub).norm() / g_pub.norm().clamp_min(1e-30))
        if err >= worst:
            worst, worst_name = err, o_name
    return worst, worst_name


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a - b| / max |b|."""
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))


# ---------------------------------------------------------------- batches and speed
def make_batch(size: dict, lengths: Sequence[int], seed: int) -> dict:
    """A random batch in both layouts: vega_mm's (``feats``, ``mask``, ``speakers``,
    ``labels``) and the published sequence-first one (``U``, ``qmask``, ``umask``,
    ``lengths``); ``gen`` draws what a method adds."""
    gen = torch.Generator().manual_seed(seed)
    B, L, S = len(lengths), max(lengths), size['speakers']
    mask = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    feats = {m: torch.randn(B, L, d, generator=gen) * mask[..., None]
             for m, d in size['dims'].items()}
    speakers = torch.randint(0, S, (B, L), generator=gen).masked_fill(~mask, S)
    labels = torch.randint(0, size['classes'], (int(mask.sum()), ), generator=gen)
    qmask = F.one_hot(speakers, S + 1)[..., :S].float().transpose(0, 1)      # [L, B, S]
    return dict(feats=feats, mask=mask, speakers=speakers, labels=labels, gen=gen,
                U={m: x.transpose(0, 1) for m, x in feats.items()}, qmask=qmask,
                umask=mask.float(), lengths=list(lengths))


def training_speed(pub: nn.Module, ours: nn.Module, head: nn.Module,
                   losses: Dict[str, Callable[[], torch.Tensor]], utterances: int,
                   steps: int, lr: float) -> Dict[str, float]:
    """Utterances per second of ``steps`` training steps (forward, backward, Adam; the
    first step warms up) of the published model and of vega_mm's."""
    out = {}
    for name, params, modules in (
            ('published', list(pub.parameters()), (pub, )),
            ('vega_mm', [*ours.parameters(), *head.parameters()], (ours, head))):
        for m in modules:
            m.train()
        times = training_step_times(losses[name], torch.optim.Adam(params, lr=lr), steps)
        out[name] = utterances / (sum(times) / len(times))
    return out


def entry_points(method_name: str, checks: types.ModuleType):
    """``check_size(module, name, size, seed, rtol, gtol)`` and ``speed(module, name,
    size, steps, seed)`` of the method module ``method_name``: those of ``checks``
    (:mod:`parity.lstm_models` or :mod:`parity.norm_models`) for it."""
    def check(module, name: str, size: dict, seed: int, rtol: float, gtol: float):
        return checks.check_size(sys.modules[method_name], module, name, size, seed, rtol,
                                 gtol)

    def timed(module, name: str, size: dict, steps: int, seed: int):
        return checks.speed(sys.modules[method_name], module, name, size, steps, seed)

    return check, timed

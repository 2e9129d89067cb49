"""Dropout with a faster random mask on the CPU.

``torch.nn.Dropout`` draws its mask with ``bernoulli_``, which on a CPU costs about 2.5x
what drawing ``uniform[0, 1) < 1 - p`` costs; both give independent Bernoulli(1 - p)
keep decisions, scaled by ``1 / (1 - p)`` (inverted dropout).  The maths is
``F.dropout``'s; only the random numbers drawn from a given seed differ.  Used by the
fast path (:class:`~vega_mm.models.backbones.FusedSDTBackbone` always, the heads with
``ConversationClassifier(fast_dropout=True)``).
"""
import torch
import torch.nn as nn

__all__ = ['dropout', 'FastDropout', 'use_fast_dropout']


class _Dropout(torch.autograd.Function):
    """Inverted dropout: ``x * m`` with ``m`` = 1 / (1 - p) where kept, else 0, in x's
    dtype; ``m`` is kept for backward (the same memory as ``F.dropout``'s mask)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, p: float) -> torch.Tensor:
        keep = 1.0 - p
        # float32 uniforms whatever x's dtype: a bf16 uniform has 8 bits of resolution
        scaled = torch.rand(x.shape, device=x.device).lt_(keep)  # 1.0 kept, 0.0 dropped
        if x.dtype != scaled.dtype:
            scaled = scaled.to(x.dtype)
        scaled.mul_(1.0 / keep)
        ctx.save_for_backward(scaled)
        return x * scaled

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        scaled, = ctx.saved_tensors
        return grad * scaled, None


def dropout(x: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``F.dropout(x, p, training)`` with the faster mask."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f'dropout probability must be in [0, 1], got {p}')
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return _Dropout.apply(x, p)


class FastDropout(nn.Dropout):
    """:class:`torch.nn.Dropout` (same arguments, no state) computed by :func:`dropout`."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.inplace:
            raise ValueError('FastDropout has no in-place mode')
        return dropout(x, self.p, self.training)


def use_fast_dropout(module: nn.Module) -> int:
    """Turn every ``nn.Dropout`` inside ``module`` into a :class:`FastDropout` with the
    same ``p`` (in place; no parameters change).  Returns how many were turned.

    Raises:
        ValueError: one of them is in-place (``FastDropout`` has no in-place mode), named
            by its path in ``module``; nothing is turned then.
    """
    found = [(name, sub) for name, sub in module.named_modules() if type(sub) is nn.Dropout]
    inplace = [name for name, sub in found if sub.inplace]
    if inplace:
        raise ValueError(f'FastDropout has no in-place mode: {inplace} use '
                         'nn.Dropout(inplace=True)')
    for _, sub in found:
        sub.__class__ = FastDropout
    return len(found)

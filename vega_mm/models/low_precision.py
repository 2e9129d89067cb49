"""Autocast's bf16 products, laid out for the CPU's bf16 kernels.

Under ``torch.autocast`` every matrix product casts its weight to bf16 at every forward,
into fresh memory, and autograd computes each weight gradient from a transposed view of
the activations; on an Intel Xeon with AMX (oneDNN) that layout runs the bf16 product
2-3x slower than the same product with the transposed operand made contiguous (see
``tools/benchmarks/bench_training_speed.py --matmul-peak``).  This module keeps
persistent bf16 copies of weights, rewritten only when the weights change
(:func:`low_precision_copies`), and gives :class:`LowPrecisionLinear`, an ``nn.Linear``
whose products under autocast use them and a backward in the fast layout.  The maths is
autocast's (the same bf16 products of the same bf16 numbers, gradients returned in the
parameters' dtype; bias gradients are summed in fp32 where autocast sums them in bf16).
Outside autocast nothing changes.
"""
from typing import Dict, Mapping, Optional

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ['LowPrecisionLinear', 'low_precision_copies']

_OPTIMIZER_STEPS = [0]  # optimizer steps taken in this process (see _count_optimizer_steps)
_STEP_HOOK = []


def _count_optimizer_steps() -> int:
    """How many optimizer steps this process has taken (any optimizer), counted from the
    first call.  The fused AdamW kernel updates parameters without bumping their
    version counters, so a cache keyed on versions alone would miss its updates; a
    global post-step hook sees every step.  Registered on first use only (importing
    vega_mm changes nothing in torch)."""
    if not _STEP_HOOK:
        def hook(*args):
            _OPTIMIZER_STEPS[0] += 1
        from torch.optim.optimizer import register_optimizer_step_post_hook
        _STEP_HOOK.append(register_optimizer_step_post_hook(hook))
    return _OPTIMIZER_STEPS[0]


def autocast_dtype(param: torch.Tensor) -> Optional[torch.dtype]:
    """The dtype autocast computes products in on ``param``'s device, or None outside
    autocast (or where it is ``param``'s own dtype)."""
    device = param.device.type
    if not hasattr(torch, 'get_autocast_dtype') or not torch.is_autocast_enabled(device):
        return None
    dtype = torch.get_autocast_dtype(device)
    return None if dtype == param.dtype else dtype


def low_precision_copies(owner: nn.Module, params: Mapping[str, torch.Tensor],
                         dtype: torch.dtype) -> Dict[str, torch.Tensor]:
    """Persistent ``dtype`` copies of ``params`` (name -> parameter), kept on ``owner``.

    Each copy is one buffer, rewritten in place when its parameter changed since the
    last copy: its memory, its version counter (in-place writes, ``load_state_dict``)
    or any optimizer step in this process (the fused AdamW kernel does not bump version
    counters), i.e. once per training step.  Writes through ``.data`` are not seen until
    the next optimizer step.  A buffer rewritten while an earlier graph still needs it
    makes that graph's backward fail (autograd's in-place check) rather than compute
    with other weights than its forward used.  The copies are not in ``state_dict``.
    """
    steps = _count_optimizer_steps()
    cache = owner.__dict__.setdefault('_low_precision_cache', {})
    out = {}
    with torch.no_grad():
        for name, p in params.items():
            key = (p.data_ptr(), p._version, steps)
            buf, seen = cache.get(name, (None, None))
            if buf is None or buf.dtype != dtype or buf.shape != p.shape \
                    or buf.device != p.device:
                with torch.inference_mode(False):  # usable by later training steps
                    buf = torch.empty(p.shape, dtype=dtype, device=p.device)
                seen = None
            if seen != key:
                buf.copy_(p)
                cache[name] = (buf, key)
            out[name] = buf
    return out


class _LowPrecisionLinearFunction(torch.autograd.Function):
    """``F.linear(x, weight, bias)`` in the dtype of ``weight_low``, autocast's maths,
    with the weight gradient computed as ``grad^T @ x`` from a contiguous ``grad^T``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                weight_low: torch.Tensor, bias_low: Optional[torch.Tensor]) -> torch.Tensor:
        x_low = x.to(weight_low.dtype)
        ctx.save_for_backward(x_low, weight_low)
        ctx.dtypes = (x.dtype, weight.dtype, None if bias is None else bias.dtype)
        return F.linear(x_low, weight_low, bias_low)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x_low, weight_low = ctx.saved_tensors
        x_dtype, weight_dtype, bias_dtype = ctx.dtypes
        grad = grad.to(weight_low.dtype).reshape(-1, weight_low.shape[0])
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_x = (grad @ weight_low).view(x_low.shape).to(x_dtype)
        if ctx.needs_input_grad[1]:
            # contiguous grad^T [out, rows]: the fast kernels; a transposed view is not
            grad_w = (grad.t().contiguous() @ x_low.reshape(-1, x_low.shape[-1])).to(
                weight_dtype)
        if bias_dtype is not None and ctx.needs_input_grad[2]:
            grad_b = grad.sum(0, dtype=torch.float32).to(bias_dtype)
        return grad_x, grad_w, grad_b, None, None


class LowPrecisionLinear(nn.Linear):
    """``nn.Linear`` (same parameters, same ``state_dict``) whose product under autocast
    uses a persistent low-precision copy of its weight and the fast weight-gradient
    layout (see the module docstring); outside autocast it is ``nn.Linear``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        dtype = autocast_dtype(self.weight)
        if dtype is None:
            return super().forward(x)
        params = {'weight': self.weight}
        if self.bias is not None:
            params['bias'] = self.bias
        low = low_precision_copies(self, params, dtype)
        return _LowPrecisionLinearFunction.apply(x, self.weight, self.bias, low['weight'],
                                                 low.get('bias'))

"""Mixed precision with bfloat16 autocast on any device, the CPU included.

MMEngine's ``AmpOptimWrapper`` refuses to run without a GPU (it asserts CUDA, NPU, MLU
or MUSA).  CPUs with AVX-512 BF16 or AMX run bf16 matrix products several times faster
than fp32, and bf16 keeps fp32's exponent range, so no loss scaling is needed: this
wrapper is ``AmpOptimWrapper``'s interface without the scaler.
"""
from contextlib import contextmanager
from typing import Optional, Union

import torch
import torch.nn as nn
from mmengine.optim import OptimWrapper

from vega_mm.registry import OPTIM_WRAPPERS

__all__ = ['BF16AmpOptimWrapper']


@OPTIM_WRAPPERS.register_module()
class BF16AmpOptimWrapper(OptimWrapper):
    """``OptimWrapper`` whose ``optim_context`` runs the forward pass under
    ``torch.autocast(<device of the model>, dtype=torch.bfloat16)``.

    Parameters, gradients and optimizer states stay fp32; autocast computes matrix
    products (and the ops PyTorch lists for it) in bf16.  ``tools/train.py --amp`` uses
    it when no GPU is present.

    Args:
        loss_scale: only None: bf16 needs no loss scaling (accepted for the interface of
            MMEngine's ``AmpOptimWrapper``).
        dtype: only ``'bfloat16'`` (fp16 needs loss scaling: use ``AmpOptimWrapper``
            on a GPU).
        **kwargs: ``OptimWrapper``'s arguments (``optimizer``, ``accumulative_counts``,
            ``clip_grad``).
    """

    def __init__(self, loss_scale: Optional[str] = None,
                 dtype: Union[str, torch.dtype] = 'bfloat16', **kwargs) -> None:
        if loss_scale is not None:
            raise ValueError(f'BF16AmpOptimWrapper: optim_wrapper.loss_scale must be None '
                             f'(bf16 has the exponent range of fp32), got {loss_scale!r}')
        if dtype not in ('bfloat16', torch.bfloat16):
            raise ValueError(f"BF16AmpOptimWrapper: optim_wrapper.dtype must be 'bfloat16', "
                             f"got {dtype!r}; for float16 use MMEngine's AmpOptimWrapper "
                             'on a GPU')
        super().__init__(**kwargs)
        self.cast_dtype = torch.bfloat16

    def load_state_dict(self, state_dict: dict) -> None:
        """As ``OptimWrapper``; a ``loss_scaler`` entry (a checkpoint written with
        ``AmpOptimWrapper``) is dropped, as there is no scaler here."""
        state_dict = dict(state_dict)
        state_dict.pop('loss_scaler', None)
        super().load_state_dict(state_dict)

    @contextmanager
    def optim_context(self, model: nn.Module):
        """``OptimWrapper``'s context (gradient accumulation) plus bf16 autocast on the
        device of the model's parameters."""
        param = next(model.parameters(), None)
        device = 'cpu' if param is None else param.device.type
        with super().optim_context(model), torch.autocast(device_type=device,
                                                          dtype=self.cast_dtype):
            yield

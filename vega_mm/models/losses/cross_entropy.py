"""Class-weighted cross-entropy over the labelled utterances."""
from typing import Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.registry import MODELS


@MODELS.register_module()
class WeightedCrossEntropyLoss(nn.Module):
    """Class-weighted cross-entropy over valid positions.

    Targets ``< 0`` are ignored (padding or unlabelled utterances).  With class weights
    the mean is weighted, as in ``torch.nn.functional.cross_entropy``.

    Args:
        class_weight: one weight per class, or None.
    """

    def __init__(self, class_weight: Optional[Sequence[float]] = None) -> None:
        super().__init__()
        weight = None if class_weight is None else torch.tensor(
            [float(w) for w in class_weight])
        self.register_buffer('class_weight', weight, persistent=False)

    def forward(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """logits [N, C], target [N] -> scalar."""
        if self.class_weight is not None and self.class_weight.numel() != logits.shape[-1]:
            raise ValueError(f'class_weight has {self.class_weight.numel()} entries but the '
                             f'logits have {logits.shape[-1]} classes')
        valid = target >= 0
        if not bool(valid.any()):
            return logits.sum() * 0.0
        weight = None if self.class_weight is None else self.class_weight.to(logits.dtype)
        return F.cross_entropy(logits[valid], target[valid], weight=weight)

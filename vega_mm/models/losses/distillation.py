"""Losses of VEGA: class-weighted cross-entropy and temperature-learned distillation."""
import math
from typing import Dict, Optional, Sequence

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


@MODELS.register_module()
class LearnedTemperatureKDLoss(nn.Module):
    """Self-distillation from a teacher branch to student branches.

    For each student ``m``: ``KL(softmax(z_teacher / T_m) || softmax(z_m / T_m)) * T_m^2``
    averaged element-wise over positions and classes, with ``T_m = exp(theta_m)``
    learned (initialised to ``init_temperature``).  The teacher is not detached by
    default, as in the published implementation.

    Args:
        students: student branch names.
        init_temperature: initial T.
        detach_teacher: stop gradients into the teacher.
    """

    def __init__(self, students: Sequence[str], init_temperature: float = 2.0,
                 detach_teacher: bool = False) -> None:
        super().__init__()
        self.students = tuple(students)
        self.log_temperature = nn.ParameterDict({
            s: nn.Parameter(torch.tensor(math.log(init_temperature))) for s in self.students
        })
        self.detach_teacher = detach_teacher

    def temperatures(self) -> Dict[str, float]:
        return {s: float(p.detach().exp()) for s, p in self.log_temperature.items()}

    def forward(self, teacher: torch.Tensor, students: Dict[str, torch.Tensor],
                weights: Dict[str, float]) -> torch.Tensor:
        """teacher [N, C]; students name -> [N, C]; weights name -> lambda_m."""
        if self.detach_teacher:
            teacher = teacher.detach()
        total = teacher.new_zeros(())
        if teacher.shape[0] == 0:
            return total + teacher.sum() * 0.0
        for name in self.students:
            weight = weights.get(name, 0.0)
            if weight == 0.0 or name not in students:
                continue
            t = self.log_temperature[name].exp().to(teacher.dtype)
            log_p_student = F.log_softmax(students[name] / t, dim=-1)
            p_teacher = F.softmax(teacher / t, dim=-1)
            kl = F.kl_div(log_p_student, p_teacher, reduction='none').mean()
            total = total + weight * kl * t * t
        return total

"""Self-distillation with learned temperatures (the fused branch teaches the others)."""
import math
from typing import Dict, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.registry import MODELS


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
            # The same KL as kl_div(log_p_student, softmax(teacher / t)), computed from the
            # teacher's log-probabilities: when a teacher probability underflows to 0,
            # the probability form's gradient into the (not detached) teacher is
            # log(0) = -inf and turns the weights into NaN; this form's is finite.
            log_p_teacher = F.log_softmax(teacher / t, dim=-1)
            kl = F.kl_div(log_p_student, log_p_teacher, reduction='none',
                          log_target=True).mean()
            total = total + weight * kl * t * t
        return total

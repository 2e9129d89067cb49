"""The loss of a multi-branch head: weighted CE per branch plus self-distillation."""
from typing import Dict, Mapping, Optional, Sequence

import torch
import torch.nn as nn

from vega_mm.registry import MODELS
from .cross_entropy import WeightedCrossEntropyLoss
from .distillation import LearnedTemperatureKDLoss


@MODELS.register_module()
class MultiBranchLoss(nn.Module):
    """``loss_weight * sum_b w_b CE_w(z_b, y)`` and, with a teacher,
    ``kd_scale * kd_loss_weight * sum_s lambda_s KL(z_teacher || z_s) T_s^2``.

    The head that owns it fills in ``branches`` (its branch names); everything else is
    configuration (``loss=dict(type='MultiBranchLoss', ...)`` in a head config).  The
    cross-entropy skips targets below 0 (unlabelled utterances); the distillation
    averages over every row it is given.  ``kd_scale`` (1 by default) is ramped by
    :class:`~vega_mm.engine.hooks.SelfDistillationHook` during a warm-up.

    Args:
        branches: branch names, e.g. ``('fused', 'text', 'audio', 'visual')``.
        teacher: the branch that teaches the others; ignored with a single branch.
        class_weight: per-class CE weights, or None.
        loss_weight: weight of the summed CE (lambda_cls / lambda_anc).
        branch_weights: CE weight per branch; entries of branches the head does not have
            are ignored, so one table serves every modality subset.  None: 1 each.
        kd_loss_weight: weight of the summed distillation (lambda_kd / lambda_akd).
        kd_weights: distillation weight per student; absent students get 0.
        init_temperature: initial learned temperature of each student.
        detach_teacher: stop the distillation gradient into the teacher (the published
            code does not).
        loss_names: names of the CE and distillation entries in the loss dict.
    """

    def __init__(self,
                 branches: Sequence[str],
                 teacher: Optional[str] = 'fused',
                 class_weight: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0,
                 branch_weights: Optional[Mapping[str, float]] = None,
                 kd_loss_weight: float = 0.0,
                 kd_weights: Optional[Mapping[str, float]] = None,
                 init_temperature: float = 2.0,
                 detach_teacher: bool = False,
                 loss_names: Sequence[str] = ('loss_cls', 'loss_kd')) -> None:
        super().__init__()
        self.branches = tuple(branches)
        if not self.branches:
            raise ValueError('MultiBranchLoss: branches must not be empty')
        if teacher is not None and teacher not in self.branches and len(self.branches) > 1:
            raise ValueError(f'MultiBranchLoss: teacher {teacher!r} is not one of the '
                             f'branches {self.branches}')
        self.teacher = teacher if teacher in self.branches else None
        self.students = tuple(b for b in self.branches if b != self.teacher)
        if branch_weights is None:
            branch_weights = {b: 1.0 for b in self.branches}
        missing = set(self.branches) - set(branch_weights)
        if missing:
            raise ValueError(f'MultiBranchLoss: branch_weights has no weight for '
                             f'{sorted(missing)} (branches: {self.branches})')
        self.branch_weights = {b: float(branch_weights[b]) for b in self.branches}
        self.kd_weights = {s: float((kd_weights or {}).get(s, 0.0)) for s in self.students}
        self.loss_weight = float(loss_weight)
        self.kd_loss_weight = float(kd_loss_weight)
        self.kd_scale = 1.0
        if len(loss_names) != 2:
            raise ValueError(f'MultiBranchLoss: loss_names must be (CE name, distillation '
                             f'name), got {loss_names!r}')
        self.loss_names = tuple(loss_names)
        self.ce_loss = WeightedCrossEntropyLoss(class_weight)
        self.kd_loss = LearnedTemperatureKDLoss(
            self.students if self.teacher else (), init_temperature, detach_teacher)

    def temperatures(self) -> Dict[str, float]:
        """The learned distillation temperatures, by student branch."""
        return self.kd_loss.temperatures()

    def forward(self, logits: Mapping[str, torch.Tensor],
                target: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Logits [N, C] per branch and targets [N] (-1: unlabelled) -> losses."""
        cls_name, kd_name = self.loss_names
        ce = sum(self.branch_weights[b] * self.ce_loss(logits[b], target)
                 for b in self.branches)
        losses = {cls_name: self.loss_weight * ce}
        if self.teacher is not None and self.students and self.kd_loss_weight > 0:
            kd = self.kd_loss(logits[self.teacher], {s: logits[s] for s in self.students},
                              self.kd_weights)
            losses[kd_name] = self.kd_scale * self.kd_loss_weight * kd
        return losses

"""What the label-space head and the VEGA head share: branch losses and distillation."""
from typing import Dict, Mapping, Optional, Sequence

import torch

from vega_mm.models.losses import LearnedTemperatureKDLoss, WeightedCrossEntropyLoss


class BranchLossMixin:
    """Class-weighted CE per branch plus self-distillation from a teacher branch.

    A head using it owns one set of logits per branch (``fused``, ``text``, ...) and
    calls :meth:`_init_branch_losses` in ``__init__``.  The distillation weight is
    multiplied by ``kd_scale`` (1 by default), which
    :class:`~vega_mm.engine.hooks.SelfDistillationHook` ramps during warm-up.
    """

    def _init_branch_losses(self,
                            branches: Sequence[str],
                            teacher: Optional[str],
                            class_weight: Optional[Sequence[float]],
                            loss_weight: float,
                            branch_weights: Optional[Mapping[str, float]],
                            kd_loss_weight: float,
                            kd_weights: Optional[Mapping[str, float]],
                            init_temperature: float,
                            detach_teacher: bool,
                            loss_names: Sequence[str]) -> None:
        self.branches = tuple(branches)
        if not self.branches:
            raise ValueError(f'{type(self).__name__}: branches must not be empty')
        self.teacher = teacher if teacher in self.branches else None
        if teacher is not None and self.teacher is None and len(self.branches) > 1:
            raise ValueError(f'{type(self).__name__}: teacher {teacher!r} is not one of the '
                             f'branches {self.branches}')
        self.students = tuple(b for b in self.branches if b != self.teacher)
        if branch_weights is None:
            branch_weights = {b: 1.0 for b in self.branches}
        # Weights of branches this model does not have (audio in a text-only model) are
        # ignored on purpose, so one weight table serves every modality subset.
        missing = set(self.branches) - set(branch_weights)
        if missing:
            raise ValueError(f'{type(self).__name__}: branch_weights has no weight for '
                             f'{sorted(missing)} (branches: {self.branches})')
        self.branch_weights = {b: float(branch_weights[b]) for b in self.branches}
        self.kd_weights = {s: float((kd_weights or {}).get(s, 0.0)) for s in self.students}
        self.loss_weight = float(loss_weight)
        self.kd_loss_weight = float(kd_loss_weight)
        self.kd_scale = 1.0
        self.loss_names = tuple(loss_names)
        self.ce_loss = WeightedCrossEntropyLoss(class_weight)
        self.kd_loss = LearnedTemperatureKDLoss(
            self.students if self.teacher else (), init_temperature, detach_teacher)

    def temperatures(self) -> Dict[str, float]:
        """The learned distillation temperatures, by student branch."""
        return self.kd_loss.temperatures()

    def branch_losses(self, logits: Dict[str, torch.Tensor],
                      targets: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Weighted CE over branches and distillation, from logits [N, C] per branch."""
        cls_name, kd_name = self.loss_names
        ce = sum(self.branch_weights[b] * self.ce_loss(logits[b], targets)
                 for b in self.branches)
        losses = {cls_name: self.loss_weight * ce}
        if self.teacher is not None and self.students and self.kd_loss_weight > 0:
            kd = self.kd_loss(logits[self.teacher], {s: logits[s] for s in self.students},
                              self.kd_weights)
            losses[kd_name] = self.kd_scale * self.kd_loss_weight * kd
        return losses

    def _select_branches(self, feats: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        missing = [b for b in self.branches if b not in feats]
        if missing:
            raise KeyError(f'{type(self).__name__} has branches {self.branches} but the '
                           f'features have no {missing} (they have {sorted(feats)}); make '
                           'head.branches match the neck modalities plus "fused"')
        return {b: feats[b] for b in self.branches}

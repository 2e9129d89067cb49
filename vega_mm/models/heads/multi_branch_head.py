"""The supervision branch of VEGA: one MLP classifier per branch, in label space."""
from typing import Dict, Mapping, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.model import BaseModule

from vega_mm.registry import MODELS
from .branch_losses import BranchLossMixin


def mlp_classifier(in_channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """H -> H -> H -> C with GELU and dropout between layers."""
    return nn.Sequential(
        nn.Linear(in_channels, in_channels), nn.GELU(), nn.Dropout(dropout),
        nn.Linear(in_channels, in_channels), nn.GELU(), nn.Dropout(dropout),
        nn.Linear(in_channels, num_classes))


@MODELS.register_module()
class MultiBranchClsHead(BranchLossMixin, BaseModule):
    """Label-space classifiers for the fused and unimodal branches, with distillation.

    ``L = loss_weight * sum_b branch_weights[b] * CE_w(z_b, y)`` and
    ``L_kd = kd_loss_weight * sum_m kd_weights[m] * KL(z_teacher || z_m) T_m^2``.

    Args:
        num_classes: C.
        in_channels: H.
        branches: branch names, e.g. ``('fused', 'text', 'audio', 'visual')``.
        teacher: the branch that teaches the others.
        dropout: dropout between classifier layers.
        class_weight: per-class CE weights.
        loss_weight: lambda_cls.
        branch_weights: per-branch CE weights (entries for absent branches ignored).
        kd_loss_weight: lambda_kd (0 switches distillation off).
        kd_weights: per-student distillation weights.
        init_temperature: initial learned temperature.
        detach_teacher: stop the distillation gradient into the teacher.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 branches: Sequence[str] = ('fused', 'text', 'audio', 'visual'),
                 teacher: Optional[str] = 'fused',
                 dropout: float = 0.3963,
                 class_weight: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0,
                 branch_weights: Optional[Mapping[str, float]] = None,
                 kd_loss_weight: float = 0.0,
                 kd_weights: Optional[Mapping[str, float]] = None,
                 init_temperature: float = 2.0,
                 detach_teacher: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        BaseModule.__init__(self, init_cfg=init_cfg)
        self.num_classes = num_classes
        self._init_branch_losses(branches, teacher, class_weight, loss_weight,
                                 branch_weights, kd_loss_weight, kd_weights,
                                 init_temperature, detach_teacher,
                                 loss_names=('loss_cls', 'loss_kd'))
        self.classifiers = nn.ModuleDict(
            {b: mlp_classifier(in_channels, num_classes, dropout) for b in self.branches})

    def forward(self, feats: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Branch features [..., H] -> branch logits [..., C]."""
        feats = self._select_branches(feats)
        return {b: self.classifiers[b](x) for b, x in feats.items()}

    def loss_by_feats(self, feats: Mapping[str, torch.Tensor],
                      targets: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Losses from features [N, H] per branch and targets [N]."""
        return self.branch_losses(self(feats), targets)

"""The supervision branch of VEGA: one MLP classifier per branch, in label space."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from vega_mm.registry import MODELS
from ..low_precision import LowPrecisionLinear
from .branch_head import BranchHead


def mlp_classifier(in_channels: int, num_classes: int, dropout: float) -> nn.Sequential:
    """H -> H -> H -> C with (exact) GELU and dropout between layers."""
    # LowPrecisionLinear: nn.Linear, with faster bf16 products under autocast
    return nn.Sequential(
        LowPrecisionLinear(in_channels, in_channels), nn.GELU(), nn.Dropout(dropout),
        LowPrecisionLinear(in_channels, in_channels), nn.GELU(), nn.Dropout(dropout),
        LowPrecisionLinear(in_channels, num_classes))


@MODELS.register_module()
class LabelHead(BranchHead):
    """Label-space classifiers ``z_b = MLP_b(h_b)`` for every branch, with VEGA's
    losses: ``L_cls = loss_weight * sum_b w_b CE_w(z_b, y)`` and
    ``L_kd = kd_loss_weight * sum_m lambda_m KL(z_teacher || z_m) T_m^2``, both in
    ``loss=dict(type='MultiBranchLoss', ...)``.  Alone in a conversation model it is
    the SDT ablation; with a :class:`VEGAHead` it is the label space of a
    :class:`DualBranchHead`.

    Args:
        num_classes: C.
        in_channels: H.
        branches: branch names, e.g. ``('fused', 'text', 'audio', 'visual')``.
        dropout: dropout between classifier layers.
        loss: the loss config (see :class:`~vega_mm.models.losses.MultiBranchLoss`).
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead``.
    """

    loss_names = ('loss_cls', 'loss_kd')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 branches: Sequence[str] = ('fused', 'text', 'audio', 'visual'),
                 dropout: float = 0.3963,
                 loss: Union[None, dict, nn.Module] = None,
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_classes, in_channels, branches, loss, topk, cal_acc, init_cfg)
        self.classifiers = nn.ModuleDict(
            {b: mlp_classifier(in_channels, num_classes, dropout) for b in self.branches})

    def branch_logits(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return {b: self.classifiers[b](x) for b, x in feats.items()}

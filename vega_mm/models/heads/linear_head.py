"""A label-space head whose classifier is one linear layer per branch."""
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

from vega_mm.registry import MODELS
from .label_head import LabelHead

__all__ = ['LinearLabelHead']


@MODELS.register_module()
class LinearLabelHead(LabelHead):
    """:class:`LabelHead` with ``Dropout -> Linear(H, C)`` per branch instead of the
    three-layer MLP: the classifier of the published graph models (DialogueGCN's
    ``smax_fc`` after dropout; MMGCN's after dropout and ReLU, the ReLU being the last
    step of :class:`~vega_mm.models.backbones.MMGCNBackbone`), with the same losses.

    Args:
        num_classes, in_channels, branches, loss, topk, cal_acc, init_cfg: as in
            :class:`LabelHead`.
        dropout: dropout before the linear layer.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 branches: Sequence[str] = ('fused', ),
                 dropout: float = 0.4,
                 loss: Union[None, dict, nn.Module] = None,
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(num_classes, in_channels, branches, dropout, loss, topk, cal_acc,
                         init_cfg)
        self.classifiers = nn.ModuleDict({
            b: nn.Sequential(nn.Dropout(dropout), nn.Linear(in_channels, num_classes))
            for b in self.branches})

    def branch_logits(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        return {b: self.classifiers[b](x) for b, x in feats.items()}

"""The VEGA branch: class decisions grounded in visual emotion anchors."""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.models.heads import ClsHead

from vega_mm.registry import MODELS
from .branch_losses import BranchLossMixin


def projection_mlp(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """H -> H -> D with ELU and dropout between the layers."""
    return nn.Sequential(
        nn.Linear(in_channels, in_channels), nn.ELU(), nn.Dropout(dropout),
        nn.Linear(in_channels, out_channels))


@MODELS.register_module()
class VEGAHead(BranchLossMixin, ClsHead):
    """Anchor-space head: ``s_b[c] = logit_scale * cos(proj_b(h_b), anchor_c)``.

    Each branch ``b`` projects its features into the anchors' CLIP image space; the
    logits are scaled cosine similarities to the class anchors of an
    :class:`~vega_mm.models.anchors.AnchorBank`.  Losses: class-weighted CE per branch
    and distillation from the teacher branch to the others with learned temperatures.

    The same head serves two kinds of models:

    - conversation models pass a dict ``{branch: Tensor[N, H]}`` (``fused``, ``text``...);
    - mmpretrain models pass the usual tuple of features; the last one feeds the first
      branch, and ``loss`` / ``predict`` take and return mmpretrain ``DataSample``s.

    Args:
        num_classes: C.
        in_channels: H.
        anchor_bank: config of (or an) :class:`AnchorBank`; ``num_classes`` is filled in.
        branches: branch names.
        teacher: the branch that teaches the others (ignored with a single branch).
        proj_dropout: dropout inside the projection MLPs.
        logit_scale: the factor on the cosine (100 in VEGA).
        class_weight: per-class CE weights.
        loss_weight: lambda_anc.
        branch_weights: per-branch CE weights.
        kd_loss_weight: lambda_akd.
        kd_weights: per-student distillation weights.
        init_temperature: initial learned temperature.
        detach_teacher: stop the distillation gradient into the teacher.
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 anchor_bank: Union[dict, nn.Module],
                 branches: Sequence[str] = ('fused', ),
                 teacher: Optional[str] = 'fused',
                 proj_dropout: float = 0.374,
                 logit_scale: float = 100.0,
                 class_weight: Optional[Sequence[float]] = None,
                 loss_weight: float = 1.0,
                 branch_weights: Optional[Mapping[str, float]] = None,
                 kd_loss_weight: float = 0.0,
                 kd_weights: Optional[Mapping[str, float]] = None,
                 init_temperature: float = 2.0,
                 detach_teacher: bool = False,
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        ClsHead.__init__(self, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        self.num_classes = num_classes
        self._init_branch_losses(branches, teacher, class_weight, loss_weight,
                                 branch_weights, kd_loss_weight, kd_weights,
                                 init_temperature, detach_teacher,
                                 loss_names=('loss_anc', 'loss_akd'))
        if isinstance(anchor_bank, dict):
            cfg = dict(anchor_bank)
            cfg.setdefault('type', 'AnchorBank')
            cfg.setdefault('num_classes', num_classes)
            anchor_bank = MODELS.build(cfg)
        if anchor_bank.num_classes != num_classes:
            raise ValueError(f'VEGAHead: the anchor bank has {anchor_bank.num_classes} '
                             f'classes but num_classes={num_classes}')
        self.anchor_bank = anchor_bank
        self.logit_scale = logit_scale
        self.projections = nn.ModuleDict({
            b: projection_mlp(in_channels, anchor_bank.dim, proj_dropout)
            for b in self.branches
        })

    # ------------------------------------------------------------ core
    def anchor_logits(self, feats: Mapping[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Branch features [..., H] -> anchor logits [..., C], one anchor draw for all."""
        feats = self._select_branches(feats)
        anchors = self.anchor_bank()
        out = {}
        for b, x in feats.items():
            z = F.normalize(self.projections[b](x), dim=-1)
            out[b] = self.logit_scale * z @ anchors.to(z.dtype).t()
        return out

    def loss_by_feats(self, feats: Mapping[str, torch.Tensor],
                      targets: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Losses from features [N, H] per branch and targets [N]."""
        return self.branch_losses(self.anchor_logits(feats), targets)

    # ------------------------------------------------------------ mmpretrain API
    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        return feats[-1]

    def forward(self, feats):  # noqa: D401 - two input kinds, documented above
        """Dict of branch features -> dict of logits; tuple -> logits of branch 0."""
        if isinstance(feats, Mapping):
            return self.anchor_logits(feats)
        return self.anchor_logits({self.branches[0]: self.pre_logits(feats)})[self.branches[0]]

    def loss(self, feats, data_samples: List, **kwargs) -> Dict[str, torch.Tensor]:
        """mmpretrain-style loss on a tuple of features and ``DataSample``s."""
        if isinstance(feats, Mapping):
            raise TypeError('VEGAHead.loss takes mmpretrain features (a tuple); conversation '
                            'models call loss_by_feats')
        if any('gt_label' not in s for s in data_samples):
            raise ValueError('VEGAHead.loss needs gt_label in every data sample (soft '
                             'labels from mixup/cutmix are not supported)')
        target = torch.cat([s.gt_label.reshape(-1) for s in data_samples]).to(
            feats[-1].device).long()
        return self.loss_by_feats({self.branches[0]: self.pre_logits(feats)}, target)

"""The VEGA branch: class decisions grounded in visual emotion anchors."""
from typing import Dict, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.registry import MODELS
from vega_mm.utils.merge import merge_derived
from ..low_precision import LowPrecisionLinear
from .branch_head import BranchHead


def projection_mlp(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """H -> H -> D with ELU and dropout between the layers."""
    # LowPrecisionLinear: nn.Linear, with faster bf16 products under autocast
    return nn.Sequential(
        LowPrecisionLinear(in_channels, in_channels), nn.ELU(), nn.Dropout(dropout),
        LowPrecisionLinear(in_channels, out_channels))


def anchor_bank_config(anchors: Optional[str],
                       anchor_bank: Union[None, dict, nn.Module],
                       num_classes: int,
                       anchor_dim: Optional[int] = None,
                       class_names: Optional[Sequence[str]] = None,
                       class_mapping: Optional[Mapping[str, str]] = None,
                       sample_prob: Optional[float] = None,
                       who: str = 'VEGAHead') -> Union[dict, nn.Module]:
    """Merge a head's anchor arguments into one ``AnchorBank`` config (or module).

    ``anchors='x.pt'`` is short for ``anchor_bank=dict(type='AnchorBank',
    anchor_file='x.pt')`` (the bank takes the file's dimension).  ``num_classes``,
    ``anchor_dim``, ``class_names``, ``class_mapping`` and ``sample_prob`` fill the config
    by the one merge rule (:func:`~vega_mm.utils.merge.merge_derived`): a contradicting
    value already in ``anchor_bank`` is an error.  The file itself is read only by the
    bank.

    Raises:
        ValueError: both or neither of ``anchors`` / ``anchor_bank``; a conflict; extra
            arguments with an already-built ``AnchorBank``.
    """
    if anchors is not None and anchor_bank is not None:
        raise ValueError(f"{who}: give anchors='<anchor file>' or anchor_bank=dict(...), "
                         'not both')
    if anchors is None and anchor_bank is None:
        raise ValueError(f"{who} needs anchors: set anchors='<anchor file>' (see "
                         "tools/build_anchors.py) or anchor_bank=dict(type='AnchorBank', "
                         '...)')
    derived = dict(num_classes=(num_classes, f'{who}.num_classes'),
                   dim=(anchor_dim, f'{who}.anchor_dim'),
                   class_names=(None if class_names is None else list(class_names),
                                f'{who}.class_names'),
                   class_mapping=(class_mapping, f'{who}.class_mapping'),
                   sample_prob=(sample_prob, f'{who}.sample_prob'))
    if isinstance(anchor_bank, nn.Module):
        extra = sorted(k for k, (v, _) in derived.items() if v is not None and
                       k != 'num_classes')
        if extra:
            raise ValueError(f'{who}: {extra} cannot be applied to an AnchorBank that is '
                             'already built; set them on the AnchorBank')
        return anchor_bank
    cfg = dict(type='AnchorBank', anchor_file=str(anchors)) if anchors is not None \
        else dict(anchor_bank)
    cfg = merge_derived(cfg, f'{who}.anchor_bank', derived)
    cfg.setdefault('type', 'AnchorBank')
    # found from any default scope (e.g. 'mmaction' in an mmaction2 config)
    cfg.setdefault('_scope_', 'vega_mm')
    return cfg


@MODELS.register_module()
class VEGAHead(BranchHead):
    """Anchor-space head: ``s_b[c] = logit_scale * cos(proj_b(h_b), anchor_c)``.

    Each branch ``b`` projects its features into the anchors' CLIP image space; the
    logits are scaled cosine similarities to the class anchors of an
    :class:`~vega_mm.models.anchor_banks.AnchorBank` (one anchor draw per forward pass
    for all branches).  Losses (``loss=dict(type='MultiBranchLoss', ...)``):
    class-weighted CE per branch (``loss_anc``) and distillation from the teacher branch
    to the others with learned temperatures (``loss_akd``).

    In an mmpretrain ``ImageClassifier`` (one branch)::

        head=dict(type='VEGAHead', num_classes=7, in_channels=512,
                  anchors='data/anchors/faces_vitb32.pt', class_names=classes)

    Args:
        num_classes: C.
        in_channels: H.
        anchor_bank: config of (or an) :class:`AnchorBank`; ``num_classes`` is filled in.
            Give this or ``anchors``.
        branches: branch names.
        proj_dropout: dropout inside the projection MLPs.
        logit_scale: the factor on the cosine (100 in VEGA).
        loss: the loss config (see :class:`~vega_mm.models.losses.MultiBranchLoss`).
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead``.
        anchors: path of an anchor file; short for ``anchor_bank=dict(type='AnchorBank',
            anchor_file=anchors)``.
        anchor_dim: the anchors' dimension D (checked against the file).
        class_names: the dataset's class order, to which the file's anchors are
            matched by name (see :class:`AnchorBank`).
        class_mapping: classes without anchors of their own -> the class standing in.
        sample_prob: probability of drawing exemplars instead of centres in a training
            step (AnchorBank default: 0.4).

    ``anchor_dim``, ``class_names``, ``class_mapping`` and ``sample_prob`` are set on the
    anchor bank in either form; a different value inside ``anchor_bank`` is an error.
    """

    loss_names = ('loss_anc', 'loss_akd')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 anchor_bank: Union[None, dict, nn.Module] = None,
                 branches: Sequence[str] = ('fused', ),
                 proj_dropout: float = 0.37442,
                 logit_scale: float = 100.0,
                 loss: Union[None, dict, nn.Module] = None,
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None,
                 anchors: Optional[str] = None,
                 anchor_dim: Optional[int] = None,
                 class_names: Optional[Sequence[str]] = None,
                 class_mapping: Optional[Mapping[str, str]] = None,
                 sample_prob: Optional[float] = None) -> None:
        super().__init__(num_classes, in_channels, branches, loss, topk, cal_acc, init_cfg)
        anchor_bank = anchor_bank_config(anchors, anchor_bank, num_classes, anchor_dim,
                                         class_names, class_mapping, sample_prob,
                                         type(self).__name__)
        if isinstance(anchor_bank, dict):
            anchor_bank = MODELS.build(anchor_bank)
        if anchor_bank.num_classes != num_classes:
            raise ValueError(f'VEGAHead: the anchor bank has {anchor_bank.num_classes} '
                             f'classes but num_classes={num_classes}')
        self.anchor_bank = anchor_bank
        self.logit_scale = logit_scale
        self.projections = nn.ModuleDict({
            b: projection_mlp(in_channels, anchor_bank.dim, proj_dropout)
            for b in self.branches
        })

    def branch_logits(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        anchors = self.anchor_bank()
        out = {}
        for b, x in feats.items():
            z = F.normalize(self.projections[b](x), dim=-1)
            out[b] = self.logit_scale * z @ anchors.to(z.dtype).t()
        return out

    def anchor_similarity(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        """Cosine [N, C] of the first branch's projection to every class anchor."""
        return logits[self.branches[0]].float() / self.logit_scale

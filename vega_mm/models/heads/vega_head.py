"""The VEGA branch: class decisions grounded in visual emotion anchors."""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead

from vega_mm.anchors.io import load_anchor_file
from vega_mm.registry import MODELS
from .branch_losses import BranchLossMixin


def projection_mlp(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """H -> H -> D with ELU and dropout between the layers."""
    return nn.Sequential(
        nn.Linear(in_channels, in_channels), nn.ELU(), nn.Dropout(dropout),
        nn.Linear(in_channels, out_channels))


def gt_labels(data_samples: Sequence, device: torch.device, who: str) -> torch.Tensor:
    """Hard labels [N] of mmpretrain ``DataSample``s.

    Raises:
        ValueError: a sample has no ``gt_label`` (e.g. soft labels from mixup/cutmix).
    """
    if any('gt_label' not in s for s in data_samples):
        raise ValueError(f'{who}.loss needs gt_label in every data sample (soft labels '
                         'from mixup/cutmix are not supported)')
    return torch.cat([s.gt_label.reshape(-1) for s in data_samples]).to(device).long()


def topk_accuracy(logits: torch.Tensor, target: torch.Tensor,
                  topk: Union[int, Sequence[int]]) -> Dict[str, torch.Tensor]:
    """``{'accuracy_top-k': %}`` as mmpretrain heads log with ``cal_acc=True``."""
    topk = (topk, ) if isinstance(topk, int) else tuple(topk)
    # probabilities, not logits: Accuracy counts scores <= its threshold 0 as wrong
    acc = Accuracy.calculate(logits.detach().float().softmax(-1), target, topk=topk)
    return {f'accuracy_top-{k}': a[0] for k, a in zip(topk, acc)}


def anchor_bank_config(anchors: Optional[str],
                       anchor_bank: Union[None, dict, nn.Module],
                       anchor_dim: Optional[int] = None,
                       class_names: Optional[Sequence[str]] = None,
                       class_mapping: Optional[Mapping[str, str]] = None,
                       sample_prob: Optional[float] = None,
                       who: str = 'VEGAHead') -> Union[dict, nn.Module]:
    """Resolve a head's anchor arguments into an ``AnchorBank`` config (or module).

    ``anchors='x.pt'`` is short for ``anchor_bank=dict(type='AnchorBank',
    anchor_file='x.pt', dim=<the file's dimension>)``.  ``anchor_dim``,
    ``class_names``, ``class_mapping`` and ``sample_prob``, when given, are set on the
    anchor bank config (either form); a different value already in ``anchor_bank`` is
    an error, not silently overridden.

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
    extra = {k: v for k, v in dict(dim=anchor_dim, class_names=class_names,
                                   class_mapping=class_mapping,
                                   sample_prob=sample_prob).items() if v is not None}
    if isinstance(anchor_bank, nn.Module):
        if extra:
            raise ValueError(f'{who}: {sorted(extra)} cannot be applied to an AnchorBank '
                             'that is already built; set them on the AnchorBank')
        return anchor_bank
    if anchors is not None:
        cfg = dict(type='AnchorBank', anchor_file=str(anchors))
        if 'dim' not in extra:
            # The projection maps features to any dimension: take the file's.
            extra['dim'] = int(load_anchor_file(str(anchors))['centers'].shape[1])
    else:
        cfg = dict(anchor_bank)
    for key, value in extra.items():
        old = cfg.get(key)
        if old is not None and _normalised(old) != _normalised(value):
            raise ValueError(f'{who}: {key}={value!r} conflicts with '
                             f'anchor_bank.{key}={old!r}')
        cfg[key] = value
    return cfg


def _normalised(value):
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (list, tuple)):
        return list(value)
    return value


@MODELS.register_module()
class VEGAHead(BranchLossMixin, ClsHead):
    """Anchor-space head: ``s_b[c] = logit_scale * cos(proj_b(h_b), anchor_c)``.

    Each branch ``b`` projects its features into the anchors' CLIP image space; the
    logits are scaled cosine similarities to the class anchors of an
    :class:`~vega_mm.models.anchors.AnchorBank`.  Losses: class-weighted CE per branch
    and distillation from the teacher branch to the others with learned temperatures.

    The same head serves two kinds of models:

    - conversation models pass a dict ``{branch: Tensor[N, H]}`` (``fused``, ``text``...);
    - mmpretrain models (``ImageClassifier``, mmaction2 recognizers) pass the usual
      tuple of features; the last one feeds the first branch, and ``loss`` /
      ``predict`` take and return mmpretrain ``DataSample``s::

          head=dict(type='VEGAHead', num_classes=7, in_channels=512,
                    anchors='data/anchors/faces_vitb32.pt', class_names=classes)

    Args:
        num_classes: C.
        in_channels: H.
        anchor_bank: config of (or an) :class:`AnchorBank`; ``num_classes`` is filled in.
            Give this or ``anchors``.
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
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead`` (``cal_acc`` adds
            ``accuracy_top-k`` of the first branch to the mmpretrain ``loss``).
        anchors: path of an anchor file; short for ``anchor_bank=dict(type='AnchorBank',
            anchor_file=anchors, dim=<the file's dimension>)``.
        anchor_dim: the anchors' dimension D (checked against the file); by default
            the file's dimension with ``anchors``, ``anchor_bank.dim`` otherwise.
        class_names: the dataset's class order, to which the file's anchors are
            matched by name (see :class:`AnchorBank`).
        class_mapping: classes without anchors of their own -> the class standing in.
        sample_prob: probability of drawing exemplars instead of centres in a training
            step (AnchorBank default: 0.4).

    ``anchor_dim``, ``class_names``, ``class_mapping`` and ``sample_prob`` are set on the
    anchor bank in either form; a different value inside ``anchor_bank`` is an error.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 anchor_bank: Union[None, dict, nn.Module] = None,
                 branches: Sequence[str] = ('fused', ),
                 teacher: Optional[str] = 'fused',
                 proj_dropout: float = 0.37442,
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
                 init_cfg: Optional[dict] = None,
                 anchors: Optional[str] = None,
                 anchor_dim: Optional[int] = None,
                 class_names: Optional[Sequence[str]] = None,
                 class_mapping: Optional[Mapping[str, str]] = None,
                 sample_prob: Optional[float] = None) -> None:
        # ClsHead's own loss module is unused (the branch losses are ours): no need to
        # build it, which also keeps the head buildable from other OpenMMLab scopes.
        ClsHead.__init__(self, loss=nn.Identity(), topk=topk, cal_acc=cal_acc,
                         init_cfg=init_cfg)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self._init_branch_losses(branches, teacher, class_weight, loss_weight,
                                 branch_weights, kd_loss_weight, kd_weights,
                                 init_temperature, detach_teacher,
                                 loss_names=('loss_anc', 'loss_akd'))
        anchor_bank = anchor_bank_config(anchors, anchor_bank, anchor_dim, class_names,
                                         class_mapping, sample_prob, type(self).__name__)
        if isinstance(anchor_bank, dict):
            cfg = dict(anchor_bank)
            cfg.setdefault('type', 'AnchorBank')
            cfg.setdefault('num_classes', num_classes)
            # found from any default scope (e.g. 'mmaction' in an mmaction2 config)
            cfg.setdefault('_scope_', 'vega_mm')
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
    def pre_logits(self, feats: Union[torch.Tensor, Sequence[torch.Tensor]],
                   num_segs: Optional[int] = None) -> torch.Tensor:
        """The feature [N, H] the first branch reads (see :func:`pool_features`)."""
        return pool_features(feats, num_segs, self.in_channels)

    def forward(self, feats, **kwargs):  # noqa: D401 - two input kinds, documented above
        """Dict of branch features -> dict of logits; tuple -> logits [N, C] of branch 0.

        ``kwargs``: ``num_segs`` from mmaction2 recognizers (segments averaged).
        """
        if isinstance(feats, Mapping):
            return self.anchor_logits(feats)
        x = self.pre_logits(feats, _num_segs(kwargs, type(self).__name__))
        return self.anchor_logits({self.branches[0]: x})[self.branches[0]]

    def loss(self, feats, data_samples: List, **kwargs) -> Dict[str, torch.Tensor]:
        """mmpretrain-style loss on a tuple of features and ``DataSample``s."""
        if isinstance(feats, Mapping):
            raise TypeError('VEGAHead.loss takes mmpretrain features (a tuple); conversation '
                            'models call loss_by_feats')
        x = self.pre_logits(feats, _num_segs(kwargs, type(self).__name__))
        target = gt_labels(data_samples, x.device, type(self).__name__)
        _check_batch(x, target, type(self).__name__)
        branch = self.branches[0]
        logits = self.anchor_logits({branch: x})
        losses = self.branch_losses(logits, target)
        if self.cal_acc:
            losses.update(topk_accuracy(logits[branch], target, self.topk))
        return losses

    def predict(self, feats, data_samples: Optional[List] = None, **kwargs) -> List:
        """Predictions set on the data samples (``pred_score`` [C], ``pred_label``).

        With several views per sample (mmaction2's multi-clip / multi-crop testing: N x V
        feature rows for N samples), the views' probabilities are averaged.
        """
        return predictions(self, self(feats, **kwargs), data_samples)


def pool_features(feats: Union[torch.Tensor, Sequence[torch.Tensor]],
                  num_segs: Optional[int] = None,
                  in_channels: Optional[int] = None) -> torch.Tensor:
    """The feature a single-branch head reads, [N, H].

    - a tuple/list of stage outputs (mmpretrain) -> the last one; a tensor (mmaction2)
      -> itself;
    - channels-first maps [N, H, h, w] or [N, H, T, h, w] (image and video backbones)
      -> global average over the trailing dimensions;
    - ``num_segs`` (mmaction2 2D recognizers: [N * num_segs, H]) -> average over the
      segments of each sample, like ``AvgConsensus``.

    Other layouts (token sequences [N, L, H], skeletons [N, M, H, T, V]) need a neck
    that gives [N, H]; 3-D input is refused as ambiguous, and a channel count other
    than ``in_channels`` after pooling is an error.
    """
    x = feats[-1] if isinstance(feats, (tuple, list)) else feats
    shape = tuple(x.shape)
    if x.ndim == 3:
        raise ValueError(f'features of shape {shape} are ambiguous ([N, H, L] or '
                         '[N, L, H]); add a neck that gives [N, H] (e.g. '
                         'GlobalAveragePooling) or pass channels-first maps')
    if x.ndim > 3:
        x = x.flatten(2).mean(-1)
    if in_channels is not None and x.shape[-1] != in_channels:
        raise ValueError(f'features have {x.shape[-1]} channels (input shape {shape}) but '
                         f'the head has in_channels={in_channels}; feature maps must be '
                         'channels-first [N, H, ...]')
    if num_segs is not None and num_segs > 1:
        if x.shape[0] % num_segs:
            raise ValueError(f'{x.shape[0]} feature rows are not a multiple of '
                             f'num_segs={num_segs}')
        x = x.reshape(-1, num_segs, x.shape[-1]).mean(1)
    return x


def predictions(head: ClsHead, scores: torch.Tensor, data_samples: Optional[List]) -> List:
    """``ClsHead``-style predictions from scores [N * V, C] (V views averaged)."""
    if data_samples is not None and len(data_samples) and \
            scores.shape[0] != len(data_samples):
        n = len(data_samples)
        if scores.shape[0] % n:
            raise ValueError(f'{type(head).__name__}.predict: {scores.shape[0]} score rows '
                             f'for {n} data samples')
        prob = scores.float().softmax(-1).reshape(n, -1, scores.shape[-1]).mean(1)
        scores = prob.clamp_min(1e-12).log()  # softmax(log p) == p
    return head._get_predictions(scores, data_samples)


def _num_segs(kwargs: Mapping, who: str) -> Optional[int]:
    if kwargs.get('fcn_test'):
        raise NotImplementedError(f'{who}: fully-convolutional testing (fcn_test) is not '
                                  'supported')
    return kwargs.get('num_segs')


def _check_batch(x: torch.Tensor, target: torch.Tensor, who: str) -> None:
    if x.shape[0] != target.shape[0]:
        raise ValueError(f'{who}.loss: {x.shape[0]} feature rows but {target.shape[0]} '
                         'labels (several views per sample are only supported in predict)')

"""The one head contract of vega_mm, shared by every head.

A head owns one set of logits per *branch* (``fused``, ``text``, ... in a conversation
model; a single branch in an image model) and follows mmpretrain's ``ClsHead``:

- ``forward(feats) -> {branch: logits [N, C]}``;
- ``loss(feats, data_samples) -> dict`` of losses, computed by ``self.loss_module``,
  built from ``loss=dict(type=...)`` (:class:`~vega_mm.models.losses.MultiBranchLoss`
  by default);
- ``predict(feats, data_samples) -> data_samples`` with ``pred_score`` / ``pred_label``.

``feats`` is either a dict of branch features ``{branch: Tensor[N, H]}`` (conversation
models, whose rows are the real utterances of a batch in dialogue order) or, for a
single-branch head, what mmpretrain backbones and necks give: a tuple of features whose
last one is pooled to [N, H] (:func:`pool_features`).  Targets come from the data
samples' ``gt_label`` (concatenated, so a conversation sample gives one label per
utterance; -1 marks an unlabelled one).
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead

from vega_mm.registry import MODELS

__all__ = ['BranchHead', 'PREDICT_WITH', 'prediction_logits', 'pool_features', 'gt_labels']

#: What a model with a label-space and an anchor-space branch predicts with.
PREDICT_WITH = ('label', 'anchor', 'mean')

# Loss arguments that heads took before the loss became a module of its own.
_LOSS_ARGS = ('class_weight', 'loss_weight', 'branch_weights', 'kd_loss_weight', 'kd_weights',
              'init_temperature', 'detach_teacher', 'teacher')


def prediction_logits(label: Optional[torch.Tensor], anchor: Optional[torch.Tensor],
                      predict_with: str) -> torch.Tensor:
    """Scores [N, C] whose softmax is the prediction: the label-space logits
    (``'label'``, VEGA's published setting), the anchor-space logits (``'anchor'``) or
    the log of the mean of the two probability vectors (``'mean'``).

    This is the one place that decides what a model predicts with.
    """
    if predict_with not in PREDICT_WITH:
        raise ValueError(f'predict_with must be one of {PREDICT_WITH}, got {predict_with!r}')
    if predict_with == 'label':
        return label
    if anchor is None:
        raise ValueError(f'predict_with={predict_with!r} needs an anchor-space branch '
                         '(a VEGA head)')
    if predict_with == 'anchor':
        return anchor
    mean = (label.float().softmax(-1) + anchor.float().softmax(-1)) / 2
    return mean.clamp_min(1e-12).log()  # softmax(log p) == p


def gt_labels(data_samples: Sequence, device: torch.device, who: str) -> torch.Tensor:
    """Hard labels [N] of the data samples, concatenated (-1: unlabelled).

    Raises:
        ValueError: a sample has no ``gt_label`` (e.g. soft labels from mixup/cutmix).
    """
    if any('gt_label' not in s for s in data_samples):
        raise ValueError(f'{who}.loss needs gt_label in every data sample (soft labels '
                         'from mixup/cutmix are not supported)')
    return torch.cat([s.gt_label.reshape(-1) for s in data_samples]).to(device).long()


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


def topk_accuracy(scores: torch.Tensor, target: torch.Tensor,
                  topk: Union[int, Sequence[int]]) -> Dict[str, torch.Tensor]:
    """``{'accuracy_top-k': %}`` over labelled rows, as mmpretrain heads log with
    ``cal_acc=True``."""
    topk = (topk, ) if isinstance(topk, int) else tuple(topk)
    valid = target >= 0
    # probabilities, not logits: Accuracy counts scores <= its threshold 0 as wrong
    acc = Accuracy.calculate(scores[valid].detach().float().softmax(-1), target[valid],
                             topk=topk)
    return {f'accuracy_top-{k}': a[0] for k, a in zip(topk, acc)}


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


def num_segs_of(kwargs: Mapping, who: str) -> Optional[int]:
    """``num_segs`` that mmaction2 recognizers pass to their heads."""
    if kwargs.get('fcn_test'):
        raise NotImplementedError(f'{who}: fully-convolutional testing (fcn_test) is not '
                                  'supported')
    return kwargs.get('num_segs')


class BranchHead(ClsHead):
    """Base of vega_mm's heads: branches, input handling, ``loss`` and ``predict``.

    Subclasses implement :meth:`branch_logits` (branch features [N, H] -> logits
    [N, C]); everything else is shared.

    Args:
        num_classes: C.
        in_channels: H.
        branches: branch names; a single-branch head also reads mmpretrain features.
        loss: the loss module's config (``MultiBranchLoss`` by default; ``branches`` is
            filled in) or a built module.
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead`` (``cal_acc`` logs the
            accuracy of the first branch during training).
    """

    #: names of the CE and distillation entries this head's loss reports
    loss_names: Tuple[str, str] = ('loss_cls', 'loss_kd')

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 branches: Sequence[str] = ('fused', ),
                 loss: Union[None, dict, nn.Module] = None,
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None,
                 **legacy) -> None:
        moved = sorted(k for k in legacy if k in _LOSS_ARGS)
        if moved:
            raise TypeError(f'{type(self).__name__}: {moved} now belong to the loss module: '
                            f"write loss=dict(type='MultiBranchLoss', "
                            + ', '.join(f'{k}=...' for k in moved) + ')')
        if legacy:
            raise TypeError(f'{type(self).__name__} got unexpected arguments '
                            f'{sorted(legacy)}')
        # ClsHead builds its loss from the mmpretrain registry: ours is built below.
        super().__init__(loss=nn.Identity(), topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.branches = tuple(branches)
        if not self.branches:
            raise ValueError(f'{type(self).__name__}: branches must not be empty')
        if not isinstance(loss, nn.Module):
            cfg = dict(loss or {})
            cfg.setdefault('type', 'MultiBranchLoss')
            cfg.setdefault('_scope_', 'vega_mm')  # buildable from any default scope
            cfg.setdefault('loss_names', self.loss_names)
            cfg['branches'] = self.branches
            loss = MODELS.build(cfg)
        self.loss_module = loss

    def branch_logits(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Branch features [..., H] -> branch logits [..., C]."""
        raise NotImplementedError

    def pre_logits(self, feats: Union[Mapping[str, torch.Tensor], torch.Tensor,
                                      Sequence[torch.Tensor]],
                   num_segs: Optional[int] = None) -> Dict[str, torch.Tensor]:
        """The branch features ``{branch: [N, H]}`` this head reads.

        A dict must hold every branch; anything else is mmpretrain/mmaction2 features,
        pooled for the single branch of the head (see :func:`pool_features`).
        """
        if isinstance(feats, Mapping):
            missing = [b for b in self.branches if b not in feats]
            if missing:
                raise KeyError(f'{type(self).__name__} has branches {self.branches} but the '
                               f'features have no {missing} (they have {sorted(feats)}); '
                               'the branches are "fused" plus the modalities')
            return {b: feats[b] for b in self.branches}
        if len(self.branches) != 1:
            raise ValueError(f'{type(self).__name__} has branches {self.branches}: it needs '
                             'a dict of branch features, not a tuple')
        return {self.branches[0]: pool_features(feats, num_segs, self.in_channels)}

    def forward(self, feats, **kwargs) -> Dict[str, torch.Tensor]:
        """Logits [N, C] per branch.  ``kwargs``: ``num_segs`` of mmaction2 recognizers."""
        return self.branch_logits(
            self.pre_logits(feats, num_segs_of(kwargs, type(self).__name__)))

    def loss(self, feats, data_samples: List, **kwargs) -> Dict[str, torch.Tensor]:
        """Losses from features and data samples (targets: their ``gt_label``)."""
        logits = self(feats, **kwargs)
        first = logits[self.branches[0]]
        target = gt_labels(data_samples, first.device, type(self).__name__)
        if first.shape[0] != target.shape[0]:
            raise ValueError(f'{type(self).__name__}.loss: {first.shape[0]} feature rows '
                             f'but {target.shape[0]} labels (several views per sample are '
                             'only supported in predict)')
        losses = self.loss_module(logits, target)
        if self.cal_acc:
            losses.update(topk_accuracy(first, target, self.topk))
        return losses

    def predict(self, feats, data_samples: Optional[List] = None, **kwargs) -> List:
        """Predictions of the first branch set on the data samples (``pred_score`` [C],
        ``pred_label``); several views per sample (mmaction2) are averaged."""
        return predictions(self, self(feats, **kwargs)[self.branches[0]], data_samples)

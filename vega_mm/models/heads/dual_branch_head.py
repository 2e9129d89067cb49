"""A label-space head and a VEGA head on the same features, distilling into each other.

The single-feature counterpart of the conversation model's two heads, for mmpretrain
``ImageClassifier``s, mmaction2 recognizers and any model whose head receives a tuple of
features and mmpretrain-style ``DataSample``s.
"""
import inspect
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead

from vega_mm.models.losses import LearnedTemperatureKDLoss
from vega_mm.registry import MODELS
from .vega_head import (VEGAHead, _check_batch, _num_segs, gt_labels, pool_features,
                        predictions, topk_accuracy)

_DISTILL = {
    None: (),
    'none': (),
    'label_to_anchor': ('anchor', ),
    'anchor_to_label': ('label', ),
    'mutual': ('anchor', 'label'),
}
_PREDICT_WITH = ('label', 'anchor', 'mean')


@MODELS.register_module()
class DualBranchHead(ClsHead):
    """A label-space classifier and a :class:`VEGAHead` on one feature, with
    distillation between the two spaces.

    Both branches read the same feature ``x`` [N, in_channels]: the last of a tuple
    (mmpretrain, e.g. a ResNet's pooled feature) or an mmaction2 feature map, globally
    averaged and averaged over ``num_segs`` (see :func:`~.vega_head.pool_features`).
    Losses::

        loss_cls = label_head's class-weighted CE on z = label_head(x)
        loss_anc = VEGA's class-weighted CE on s = 100 * cos(proj(x), anchors)
        loss_kd  = kd_scale * kd_loss_weight * (
                       KL(softmax(z / T_a) || softmax(s / T_a)) T_a^2    # label -> anchor
                     + KL(softmax(s / T_l) || softmax(z / T_l)) T_l^2)   # anchor -> label

    where ``distill`` chooses the directions (both for ``'mutual'``) and each direction
    has its own learned temperature (:class:`LearnedTemperatureKDLoss`, ``T = exp(theta)``).
    ``kd_scale`` is 1 unless :class:`~vega_mm.engine.hooks.SelfDistillationHook` ramps
    it during a warm-up.

    Prediction (``forward``/``predict``): the label branch by default (as VEGA), the
    anchor branch, or the mean of the two probability vectors.  ``forward`` returns
    scores whose softmax is the prediction (for ``'mean'``: the log of the mean
    probability), so mmpretrain's ``predict`` and metrics work unchanged.

    Args:
        num_classes: C.
        in_channels: channels of the last feature.
        vega_head: extra arguments of the :class:`VEGAHead` (``proj_dropout``,
            ``loss_weight``, ``logit_scale``...); ``num_classes``, ``in_channels`` and
            ``class_weight`` are filled in.
        label_head: the label-space classifier: ``MultiBranchClsHead`` (VEGA's
            supervision MLP H -> H -> H -> C, the default) or any mmpretrain ``ClsHead``
            such as ``dict(type='LinearClsHead')``; ``num_classes`` and ``in_channels``
            are filled in where the head takes them.  An mmpretrain head keeps its own
            ``loss`` config (its ``'loss'`` is reported as ``loss_cls``).
        anchors, anchor_bank, anchor_dim, class_names, class_mapping, sample_prob:
            the VEGA branch's anchors, as in :class:`VEGAHead` (passed to it).
        class_weight: per-class CE weights of both branches (an mmpretrain label head
            takes them in its own ``loss`` config instead).
        distill: ``'mutual'`` (default), ``'label_to_anchor'``, ``'anchor_to_label'`` or
            ``None``: which way(s) knowledge is distilled.
        kd_loss_weight: weight of ``loss_kd`` (0 switches distillation off).
        init_temperature: initial learned temperature of each direction.
        detach_teacher: stop the distillation gradient into the teaching branch (the
            default here: in mutual learning each direction updates only its student).
        predict_with: ``'label'``, ``'anchor'`` or ``'mean'``.
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead`` (``cal_acc`` logs the
            accuracy of the prediction during training).
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 vega_head: Optional[dict] = None,
                 label_head: Optional[dict] = None,
                 anchors: Optional[str] = None,
                 anchor_bank: Union[None, dict, nn.Module] = None,
                 anchor_dim: Optional[int] = None,
                 class_names: Optional[Sequence[str]] = None,
                 class_mapping: Optional[Mapping[str, str]] = None,
                 sample_prob: Optional[float] = None,
                 class_weight: Optional[Sequence[float]] = None,
                 distill: Optional[str] = 'mutual',
                 kd_loss_weight: float = 0.5,
                 init_temperature: float = 2.0,
                 detach_teacher: bool = True,
                 predict_with: str = 'label',
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        super().__init__(loss=nn.Identity(), topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        if distill not in _DISTILL:
            raise ValueError(f'DualBranchHead: distill must be one of '
                             f"{[k for k in _DISTILL if k]} or None, got {distill!r}")
        if predict_with not in _PREDICT_WITH:
            raise ValueError(f'DualBranchHead: predict_with must be one of {_PREDICT_WITH}, '
                             f'got {predict_with!r}')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.distill = distill
        self.kd_loss_weight = float(kd_loss_weight)
        self.predict_with = predict_with
        self.kd_scale = 1.0

        # ---- anchor space: a VEGAHead with one branch
        vcfg = dict(vega_head or {})
        vcfg.setdefault('type', 'VEGAHead')
        vcfg.setdefault('_scope_', 'vega_mm')  # buildable from any default scope
        anchor_args = dict(anchors=anchors, anchor_bank=anchor_bank, anchor_dim=anchor_dim,
                           class_names=class_names, class_mapping=class_mapping,
                           sample_prob=sample_prob)
        for key, value in anchor_args.items():
            if value is None:
                continue
            if vcfg.get(key) is not None:
                raise ValueError(f'DualBranchHead: {key} is given both at the top level and '
                                 'in vega_head; give it once')
            vcfg[key] = value
        _fill(vcfg, num_classes=num_classes, in_channels=in_channels,
              class_weight=class_weight)
        self.vega_head = MODELS.build(vcfg)
        if not isinstance(self.vega_head, VEGAHead):
            raise TypeError(f'DualBranchHead: vega_head must build a VEGAHead, got '
                            f'{type(self.vega_head).__name__}')
        if len(self.vega_head.branches) != 1:
            raise ValueError('DualBranchHead works on one feature: vega_head must have one '
                             f'branch, got {self.vega_head.branches}')
        self.branch = self.vega_head.branches[0]

        # ---- label space: VEGA's MLP classifier or any mmpretrain ClsHead
        lcfg = dict(label_head or {})
        lcfg.setdefault('type', 'MultiBranchClsHead')
        lcfg.setdefault('_scope_', 'vega_mm')
        label_cls = MODELS.get(lcfg['type']) if isinstance(lcfg['type'], str) else lcfg['type']
        if label_cls is None:
            raise KeyError(f"DualBranchHead: label_head type {lcfg['type']!r} is not "
                           'registered')
        if hasattr(label_cls, 'loss_by_feats'):  # vega_mm's dict-of-branches heads
            lcfg.setdefault('branches', (self.branch, ))
            lcfg.setdefault('teacher', None)
            _fill(lcfg, num_classes=num_classes, in_channels=in_channels,
                  class_weight=class_weight)
        else:
            params = inspect.signature(label_cls).parameters
            _fill(lcfg, **{k: v for k, v in dict(num_classes=num_classes,
                                                 in_channels=in_channels).items()
                           if k in params})
        self.label_head = MODELS.build(lcfg)
        self._label_takes_tuple = not hasattr(self.label_head, 'loss_by_feats')
        if self._label_takes_tuple and not isinstance(self.label_head, ClsHead):
            raise TypeError('DualBranchHead: label_head must be a MultiBranchClsHead or an '
                            f'mmpretrain ClsHead, got {type(self.label_head).__name__}')
        if not self._label_takes_tuple and \
                tuple(self.label_head.branches) != (self.branch, ):
            raise ValueError(f'DualBranchHead: label_head must have the one branch '
                             f'{self.branch!r}, got {self.label_head.branches}')

        # ---- distillation between the spaces
        self.kd_loss = LearnedTemperatureKDLoss(_DISTILL[distill], init_temperature,
                                                detach_teacher)

    # ------------------------------------------------------------ core
    def temperatures(self) -> Dict[str, float]:
        """Learned temperatures, by student branch (``'anchor'``, ``'label'``)."""
        return self.kd_loss.temperatures()

    def pre_logits(self, feats: Union[torch.Tensor, Sequence[torch.Tensor]],
                   num_segs: Optional[int] = None) -> torch.Tensor:
        """The feature [N, H] both branches read (see :func:`pool_features`)."""
        return pool_features(feats, num_segs, self.in_channels)

    def logits_by_feat(self, x: torch.Tensor) -> Dict[str, torch.Tensor]:
        """``{'label': z [N, C], 'anchor': s [N, C]}`` from a pooled feature [N, H]."""
        if self._label_takes_tuple:
            label = self.label_head((x, ))
        else:
            label = self.label_head({self.branch: x})[self.branch]
        anchor = self.vega_head.anchor_logits({self.branch: x})[self.branch]
        return dict(label=label, anchor=anchor)

    def branch_logits(self, feats, **kwargs) -> Dict[str, torch.Tensor]:
        """``{'label': z [N, C], 'anchor': s [N, C]}`` from a tuple of features."""
        x = self.pre_logits(feats, _num_segs(kwargs, type(self).__name__))
        return self.logits_by_feat(x)

    def _scores(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        if self.predict_with == 'label':
            return logits['label']
        if self.predict_with == 'anchor':
            return logits['anchor']
        mean = (logits['label'].float().softmax(-1) + logits['anchor'].float().softmax(-1)) / 2
        return mean.clamp_min(1e-12).log()  # softmax(log p) == p

    def distillation(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The (unweighted) distillation between the label and anchor logits."""
        z, s = logits['label'], logits['anchor']
        total = z.new_zeros(())
        if 'anchor' in self.kd_loss.students:
            total = total + self.kd_loss(z, {'anchor': s}, {'anchor': 1.0})
        if 'label' in self.kd_loss.students:
            total = total + self.kd_loss(s, {'label': z}, {'label': 1.0})
        return total

    # ------------------------------------------------------------ mmpretrain API
    def forward(self, feats, **kwargs) -> torch.Tensor:
        """Scores [N, C] whose softmax is the prediction (see ``predict_with``)."""
        return self._scores(self.branch_logits(feats, **kwargs))

    def loss(self, feats, data_samples: List, **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_cls``, ``loss_anc`` and ``loss_kd`` from features and ``DataSample``s."""
        x = self.pre_logits(feats, _num_segs(kwargs, type(self).__name__))
        target = gt_labels(data_samples, x.device, type(self).__name__)
        _check_batch(x, target, type(self).__name__)
        logits = self.logits_by_feat(x)
        if self._label_takes_tuple:
            label_losses = self.label_head._get_loss(logits['label'], data_samples)
            label_losses['loss_cls'] = label_losses.pop('loss')
        else:
            label_losses = self.label_head.branch_losses({self.branch: logits['label']},
                                                         target)
        losses = dict(label_losses)
        losses.update(self.vega_head.branch_losses({self.branch: logits['anchor']}, target))
        if self.kd_loss.students and self.kd_loss_weight > 0:
            losses['loss_kd'] = self.kd_scale * self.kd_loss_weight * \
                self.distillation(logits)
        if self.cal_acc:
            losses.update(topk_accuracy(self._scores(logits), target, self.topk))
        return losses

    def predict(self, feats, data_samples: Optional[List] = None, **kwargs) -> List:
        """Predictions set on the data samples; several views per sample (mmaction2
        multi-view testing) are averaged."""
        return predictions(self, self(feats, **kwargs), data_samples)

    def extra_repr(self) -> str:
        return (f'distill={self.distill!r}, kd_loss_weight={self.kd_loss_weight}, '
                f'predict_with={self.predict_with!r}')


def _fill(cfg: dict, **values) -> None:
    """Set ``values`` (skipping None) where ``cfg`` has no value of its own."""
    for key, value in values.items():
        if value is not None:
            cfg.setdefault(key, value)

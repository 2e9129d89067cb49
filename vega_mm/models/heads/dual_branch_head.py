"""A label-space head and a VEGA head on the same features, distilling into each other.

The single-feature counterpart of the conversation model's two heads, for mmpretrain
``ImageClassifier``s, mmaction2 recognizers and any model whose head receives a tuple of
features and mmpretrain-style ``DataSample``s.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead

from vega_mm.models.losses import LearnedTemperatureKDLoss
from vega_mm.registry import MODELS
from .branch_head import (PREDICT_WITH, BranchHead, gt_labels, num_segs_of, pool_features,
                          prediction_logits, predictions, topk_accuracy)
from .vega_head import VEGAHead

_DISTILL = {
    None: (),
    'none': (),
    'label_to_anchor': ('anchor', ),
    'anchor_to_label': ('label', ),
    'mutual': ('anchor', 'label'),
}


@MODELS.register_module()
class DualBranchHead(ClsHead):
    """A label-space classifier and a :class:`VEGAHead` on one feature, with
    distillation between the two spaces.

    Both branches read the same feature ``x`` [N, in_channels]: the last of a tuple
    (mmpretrain, e.g. a ResNet's pooled feature) or an mmaction2 feature map, globally
    averaged and averaged over ``num_segs`` (see :func:`~.branch_head.pool_features`).
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

    ``forward`` returns ``{'label': z, 'anchor': s}`` like every vega_mm head; ``predict``
    uses the label branch by default (as VEGA), the anchor branch, or the mean of the two
    probability vectors (:func:`~.branch_head.prediction_logits`), so mmpretrain's
    metrics work unchanged.

    Args:
        num_classes: C.
        in_channels: channels of the last feature.
        vega_head: extra arguments of the :class:`VEGAHead` (``proj_dropout``,
            ``logit_scale``, ``loss``...); ``num_classes``, ``in_channels`` and the
            loss's ``class_weight`` are filled in.
        label_head: the label-space classifier: ``LabelHead`` (VEGA's supervision MLP
            H -> H -> H -> C, the default) or an mmpretrain ``ClsHead`` that takes
            ``num_classes`` and ``in_channels``, such as ``dict(type='LinearClsHead')``
            (both are filled in).  An mmpretrain head keeps its own ``loss`` config
            (its ``'loss'`` is reported as ``loss_cls``).
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
        if predict_with not in PREDICT_WITH:
            raise ValueError(f'DualBranchHead: predict_with must be one of {PREDICT_WITH}, '
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
        vcfg.setdefault('num_classes', num_classes)
        vcfg.setdefault('in_channels', in_channels)
        _fill_class_weight(vcfg, class_weight)
        self.vega_head = MODELS.build(vcfg)
        if not isinstance(self.vega_head, VEGAHead):
            raise TypeError(f'DualBranchHead: vega_head must build a VEGAHead, got '
                            f'{type(self.vega_head).__name__}')
        if len(self.vega_head.branches) != 1:
            raise ValueError('DualBranchHead works on one feature: vega_head must have one '
                             f'branch, got {self.vega_head.branches}')
        self.branch = self.vega_head.branches[0]

        # ---- label space: VEGA's MLP classifier or an mmpretrain ClsHead
        lcfg = dict(label_head or {})
        lcfg.setdefault('type', 'LabelHead')
        lcfg.setdefault('_scope_', 'vega_mm')
        lcfg.setdefault('num_classes', num_classes)
        lcfg.setdefault('in_channels', in_channels)
        label_cls = MODELS.get(lcfg['type']) if isinstance(lcfg['type'], str) else lcfg['type']
        if label_cls is None:
            raise KeyError(f"DualBranchHead: label_head type {lcfg['type']!r} is not "
                           'registered')
        self._vega_label_head = isinstance(label_cls, type) and issubclass(label_cls,
                                                                             BranchHead)
        if self._vega_label_head:
            lcfg.setdefault('branches', (self.branch, ))
            _fill_class_weight(lcfg, class_weight)
        self.label_head = MODELS.build(lcfg)
        if not isinstance(self.label_head, ClsHead):
            raise TypeError('DualBranchHead: label_head must be a LabelHead or an '
                            f'mmpretrain ClsHead, got {type(self.label_head).__name__}')
        if self._vega_label_head and tuple(self.label_head.branches) != (self.branch, ):
            raise ValueError(f'DualBranchHead: label_head must have the one branch '
                             f'{self.branch!r}, got {self.label_head.branches}')

        # ---- distillation between the spaces
        self.kd_loss = LearnedTemperatureKDLoss(_DISTILL[distill], init_temperature,
                                                detach_teacher)

    def temperatures(self) -> Dict[str, float]:
        """Learned temperatures, by student branch (``'anchor'``, ``'label'``)."""
        return self.kd_loss.temperatures()

    def forward(self, feats, **kwargs) -> Dict[str, torch.Tensor]:
        """``{'label': z [N, C], 'anchor': s [N, C]}`` from mmpretrain features."""
        x = pool_features(feats, num_segs_of(kwargs, type(self).__name__), self.in_channels)
        label = self.label_head((x, ))
        if self._vega_label_head:
            label = label[self.branch]
        anchor = self.vega_head({self.branch: x})[self.branch]
        return dict(label=label, anchor=anchor)

    def distillation(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The (unweighted) distillation between the label and anchor logits."""
        z, s = logits['label'], logits['anchor']
        total = z.new_zeros(())
        if 'anchor' in self.kd_loss.students:
            total = total + self.kd_loss(z, {'anchor': s}, {'anchor': 1.0})
        if 'label' in self.kd_loss.students:
            total = total + self.kd_loss(s, {'label': z}, {'label': 1.0})
        return total

    def loss(self, feats, data_samples: List, **kwargs) -> Dict[str, torch.Tensor]:
        """``loss_cls``, ``loss_anc`` and ``loss_kd`` from features and ``DataSample``s."""
        logits = self(feats, **kwargs)
        target = gt_labels(data_samples, logits['label'].device, type(self).__name__)
        if logits['label'].shape[0] != target.shape[0]:
            raise ValueError(f"DualBranchHead.loss: {logits['label'].shape[0]} feature rows "
                             f'but {target.shape[0]} labels (several views per sample are '
                             'only supported in predict)')
        if self._vega_label_head:
            losses = self.label_head.loss_module({self.branch: logits['label']}, target)
        else:
            losses = self.label_head._get_loss(logits['label'], data_samples)
            losses['loss_cls'] = losses.pop('loss')
        losses.update(self.vega_head.loss_module({self.branch: logits['anchor']}, target))
        if self.kd_loss.students and self.kd_loss_weight > 0:
            losses['loss_kd'] = self.kd_scale * self.kd_loss_weight * \
                self.distillation(logits)
        if self.cal_acc:
            losses.update(topk_accuracy(self._scores(logits), target, self.topk))
        return losses

    def _scores(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        return prediction_logits(logits['label'], logits['anchor'], self.predict_with)

    def predict(self, feats, data_samples: Optional[List] = None, **kwargs) -> List:
        """Predictions set on the data samples; several views per sample (mmaction2
        multi-view testing) are averaged."""
        return predictions(self, self._scores(self(feats, **kwargs)), data_samples)

    def extra_repr(self) -> str:
        return (f'distill={self.distill!r}, kd_loss_weight={self.kd_loss_weight}, '
                f'predict_with={self.predict_with!r}')


def _fill_class_weight(head_cfg: dict, class_weight: Optional[Sequence[float]]) -> None:
    """Put ``class_weight`` into a vega_mm head config's loss unless it has its own."""
    if class_weight is None:
        return
    loss = dict(head_cfg.get('loss') or {})
    loss.setdefault('class_weight', class_weight)
    head_cfg['loss'] = loss

"""VEGA's composite head: a label space and an anchor space over the same branches.

The one head of a VEGA conversation model (branches ``fused`` plus the modalities) and,
with a single branch, a VEGA head for mmpretrain ``ImageClassifier`` models, mmaction2
recognizers and any model whose head receives a tuple of features and
mmpretrain-style ``DataSample`` objects.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.models.heads import ClsHead

from vega_mm.models.losses import LearnedTemperatureKDLoss
from vega_mm.registry import MODELS
from vega_mm.utils.merge import merge_derived
from .branch_head import PREDICT_WITH, BranchHead, prediction_logits
from .vega_head import VEGAHead

_DISTILL = {
    None: (),
    'none': (),
    'label_to_anchor': ('anchor', ),
    'anchor_to_label': ('label', ),
    'mutual': ('anchor', 'label'),
}

#: prefix of the anchor-space logits in :meth:`DualBranchHead.forward`'s output
ANCHOR_PREFIX = 'anchor_'


def _head_class(cfg: dict, where: str) -> type:
    cls = MODELS.get(cfg['type']) if isinstance(cfg['type'], str) else cfg['type']
    if cls is None:
        raise KeyError(f"{where}: type {cfg['type']!r} is not registered")
    return cls


@MODELS.register_module()
class DualBranchHead(BranchHead):
    """A label-space head and a :class:`VEGAHead` on the same branch features, with
    optional distillation between the two spaces.

    For every branch ``b`` (``fused``, ``text``, ... in a conversation model; one branch
    in an image model)::

        z_b = label_head(x_b)                          # label space
        s_b = 100 * cos(proj_b(x_b), anchors)          # anchor space (VEGAHead)
        loss_cls, loss_kd   = the label head's losses  # CE (+ distillation between branches)
        loss_anc, loss_akd  = the VEGA head's losses
        loss_kd (one branch) / loss_xkd (several) = kd_scale * kd_loss_weight * sum_b (
                KL(softmax(z_b / T_a) || softmax(s_b / T_a)) T_a^2    # label -> anchor
              + KL(softmax(s_b / T_l) || softmax(z_b / T_l)) T_l^2)   # anchor -> label

    where ``distill`` chooses the directions between the spaces (VEGA's conversation
    model has none: ``distill=None``) and each direction has its own learned
    temperature (this head's ``loss_module``, a :class:`LearnedTemperatureKDLoss`).
    ``kd_scale`` is 1 unless :class:`~vega_mm.engine.hooks.SelfDistillationHook` ramps
    it during a warm-up.

    ``forward`` returns ``{b: z_b, 'anchor_' + b: s_b}``; the prediction is decided by
    ``predict_with`` (:func:`~.branch_head.prediction_logits` on the first branch), so
    mmpretrain's metrics work unchanged.

    Args:
        num_classes: C.
        in_channels: H.
        branches: branch names (the first one predicts).
        label_head: the label-space head: ``LabelHead`` (VEGA's MLP H -> H -> H -> C per
            branch, the default) or, with one branch, an mmpretrain ``ClsHead`` that takes
            ``num_classes`` and ``in_channels``, such as ``dict(type='LinearClsHead')``
            (its own ``loss`` is reported as ``loss_cls``).
        vega_head: the :class:`VEGAHead`'s arguments (``proj_dropout``, ``logit_scale``,
            ``loss``, ``anchor_bank``...).  None with neither ``anchors`` nor
            ``anchor_bank``: no anchor space, the label head alone (the SDT ablation of
            VEGA, ``model.head.vega_head=None``).
        anchors, anchor_bank, anchor_dim, class_names, class_mapping, sample_prob:
            the VEGA head's anchors, as in :class:`VEGAHead` (given here or there, once).
        class_weight: per-class CE weights of both spaces (an mmpretrain label head takes
            them in its own ``loss`` config instead).
        distill: ``'mutual'`` (default), ``'label_to_anchor'``, ``'anchor_to_label'`` or
            ``None``: which way(s) knowledge is distilled between the spaces.
        kd_loss_weight: weight of that distillation (0 switches it off).
        init_temperature: initial learned temperature of each direction.
        detach_teacher: stop the distillation gradient into the teaching space (in mutual
            learning each direction updates only its student).
        predict_with: ``'label'`` (VEGA's published setting), ``'anchor'`` or ``'mean'``.
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead``.
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 branches: Sequence[str] = ('fused', ),
                 label_head: Optional[dict] = None,
                 vega_head: Optional[dict] = None,
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
        if distill not in _DISTILL:
            raise ValueError(f'DualBranchHead: distill must be one of '
                             f"{[k for k in _DISTILL if k]} or None, got {distill!r}")
        if predict_with not in PREDICT_WITH:
            raise ValueError(f'DualBranchHead: predict_with must be one of {PREDICT_WITH}, '
                             f'got {predict_with!r}')
        anchor_space = not (vega_head is None and anchors is None and anchor_bank is None)
        if not anchor_space and predict_with != 'label':
            raise ValueError(f'DualBranchHead: predict_with={predict_with!r} needs an anchor '
                             'space, but vega_head=None and no anchors are given')
        kd_loss = LearnedTemperatureKDLoss(_DISTILL[distill] if anchor_space else (),
                                           init_temperature, detach_teacher)
        super().__init__(num_classes, in_channels, branches, kd_loss, topk, cal_acc,
                         init_cfg)
        self.distill = distill
        self.kd_loss_weight = float(kd_loss_weight)
        self.predict_with = predict_with
        self.kd_scale = 1.0
        weight = None if class_weight is None else list(class_weight)
        shared = dict(num_classes=(num_classes, 'DualBranchHead.num_classes'),
                      in_channels=(in_channels, 'DualBranchHead.in_channels'),
                      branches=(self.branches, 'DualBranchHead.branches'))
        # the label head first: the order of the initial weights' random draws
        self.label_head = self._label_head(label_head, shared, weight)
        anchor_args = dict(anchors=anchors, anchor_bank=anchor_bank, anchor_dim=anchor_dim,
                           class_names=class_names, class_mapping=class_mapping,
                           sample_prob=sample_prob)
        if not anchor_space:
            stray = sorted(k for k in ('anchor_dim', 'class_mapping', 'sample_prob')
                           if anchor_args[k] is not None)
            if stray:
                raise ValueError(f'DualBranchHead: {stray} are anchor settings, but the '
                                 'head has no anchor space (vega_head=None and no anchors)')
            self.vega_head = None
        else:
            self.vega_head = self._vega_head(vega_head, shared, weight, anchor_args)
        self._register_load_state_dict_pre_hook(_legacy_keys)

    @staticmethod
    def _with_class_weight(cfg: dict, where: str, class_weight) -> dict:
        loss = merge_derived(cfg.get('loss'), f'{where}.loss',
                             dict(class_weight=(class_weight, 'DualBranchHead.class_weight')))
        return dict(cfg, loss=loss) if loss else cfg

    def _vega_head(self, cfg: Optional[dict], shared: dict, class_weight,
                   anchor_args: dict) -> VEGAHead:
        cfg = dict(cfg or {})
        cfg.setdefault('type', 'VEGAHead')
        cfg.setdefault('_scope_', 'vega_mm')  # buildable from any default scope
        cfg = merge_derived(cfg, 'DualBranchHead.vega_head', dict(shared, **{
            k: (v, f'DualBranchHead.{k}') for k, v in anchor_args.items()}))
        head = MODELS.build(self._with_class_weight(cfg, 'DualBranchHead.vega_head',
                                                    class_weight))
        if not isinstance(head, VEGAHead):
            raise TypeError(f'DualBranchHead: vega_head must build a VEGAHead, got '
                            f'{type(head).__name__}')
        return head

    def _label_head(self, cfg: Optional[dict], shared: dict, class_weight) -> ClsHead:
        cfg = dict(cfg or {})
        cfg.setdefault('type', 'LabelHead')
        cfg.setdefault('_scope_', 'vega_mm')
        cls = _head_class(cfg, 'DualBranchHead.label_head')
        self._vega_label_head = isinstance(cls, type) and issubclass(cls, BranchHead)
        if self._vega_label_head:
            cfg = merge_derived(cfg, 'DualBranchHead.label_head', shared)
            cfg = self._with_class_weight(cfg, 'DualBranchHead.label_head', class_weight)
        else:
            if len(self.branches) != 1:
                raise ValueError('DualBranchHead: an mmpretrain label head reads one '
                                 f'feature, but the head has branches {self.branches}; use '
                                 "label_head=dict(type='LabelHead')")
            cfg = merge_derived(cfg, 'DualBranchHead.label_head', dict(
                num_classes=shared['num_classes'], in_channels=shared['in_channels']))
        head = MODELS.build(cfg)
        if not isinstance(head, ClsHead):
            raise TypeError('DualBranchHead: label_head must be a LabelHead or an '
                            f'mmpretrain ClsHead, got {type(head).__name__}')
        return head

    # ------------------------------------------------------------------ logits
    @property
    def kd_loss(self) -> LearnedTemperatureKDLoss:
        """The distillation between the spaces (this head's loss module)."""
        return self.loss_module

    def temperatures(self) -> Dict[str, float]:
        """Learned temperatures, by student space (``'anchor'``, ``'label'``)."""
        return self.kd_loss.temperatures()

    def branch_logits(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """``{b: z_b, 'anchor_' + b: s_b}``; the label head runs first (the order of
        the random numbers its dropout draws)."""
        if self._vega_label_head:
            out = dict(self.label_head(feats))
        else:
            b = self.branches[0]
            out = {b: self.label_head((feats[b], ))}
        if self.vega_head is not None:
            out.update({ANCHOR_PREFIX + b: s for b, s in self.vega_head(feats).items()})
        return out

    def split(self, logits: Dict[str, torch.Tensor]
              ) -> Tuple[Dict[str, torch.Tensor], Dict[str, torch.Tensor]]:
        """:meth:`forward`'s output -> (label-space, anchor-space) logits by branch
        (the anchor-space dict is empty without an anchor space)."""
        return ({b: logits[b] for b in self.branches},
                {b: logits[ANCHOR_PREFIX + b] for b in self.branches
                 if ANCHOR_PREFIX + b in logits})

    def scores(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        b = self.branches[0]
        return prediction_logits(logits[b], logits.get(ANCHOR_PREFIX + b),
                                 self.predict_with)

    def anchor_similarity(self, logits: Dict[str, torch.Tensor]) -> Optional[torch.Tensor]:
        if self.vega_head is None:
            return None
        return self.vega_head.anchor_similarity(self.split(logits)[1])

    # ------------------------------------------------------------------ loss
    def distillation(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The (unweighted) distillation between the spaces, summed over branches."""
        label, anchor = self.split(logits)
        total = next(iter(label.values())).new_zeros(())
        for b in self.branches:
            if 'anchor' in self.kd_loss.students:
                total = total + self.kd_loss(label[b], {'anchor': anchor[b]}, {'anchor': 1.0})
            if 'label' in self.kd_loss.students:
                total = total + self.kd_loss(anchor[b], {'label': label[b]}, {'label': 1.0})
        return total

    def losses(self, logits: Dict[str, torch.Tensor], target: torch.Tensor,
               data_samples: List) -> Dict[str, torch.Tensor]:
        label, anchor = self.split(logits)
        if self._vega_label_head:
            losses = self.label_head.loss_module(label, target)
        else:  # an mmpretrain ClsHead's loss, as its own _get_loss computes it
            z = label[self.branches[0]]
            losses = dict(loss_cls=self.label_head.loss_module(z, target,
                                                               avg_factor=z.size(0)))
        if self.vega_head is None:
            return losses
        losses.update(self.vega_head.loss_module(anchor, target))
        if self.kd_loss.students and self.kd_loss_weight > 0:
            name = 'loss_kd' if len(self.branches) == 1 else 'loss_xkd'
            losses[name] = self.kd_scale * self.kd_loss_weight * self.distillation(logits)
        return losses

    def extra_repr(self) -> str:
        return (f'branches={self.branches}, distill={self.distill!r}, '
                f'kd_loss_weight={self.kd_loss_weight}, predict_with={self.predict_with!r}')


def _legacy_keys(state_dict: dict, prefix: str, *args, **kwargs) -> None:
    """Checkpoints of image models written before the distillation between the spaces
    became this head's loss module: ``kd_loss.*`` -> ``loss_module.*``."""
    from vega_mm.models.legacy import rename_keys
    rename_keys(state_dict, prefix, (('kd_loss.', 'loss_module.'), ))

"""The one head contract of vega_mm, shared by every head.

A head owns one set of logits per *branch* (``fused``, ``text``, ... in a conversation
model; a single branch in an image model) and follows mmpretrain's ``ClsHead``:

- ``forward(feats) -> {name: logits [N, C]}``;
- ``loss(feats, data_samples) -> dict`` of losses, computed with ``self.loss_module``,
  built from ``loss=dict(type=...)`` (:class:`~vega_mm.models.losses.MultiBranchLoss`
  by default);
- ``predict(feats, data_samples) -> data_samples`` with everything a user reads:
  ``pred_score`` (probabilities of the prediction), ``pred_label``, ``branch_scores``
  (probabilities of every branch), ``branch_pred_labels`` and, for heads with an anchor
  space, ``anchor_similarity`` (cosine to every class anchor).  Nothing downstream
  recomputes these.

``feats`` is either a dict of branch features ``{branch: Tensor[N, H]}`` (conversation
models, whose rows are the real utterances of a batch in dialogue order) or, for a
single-branch head, what mmpretrain backbones and necks give: a tuple of features whose
last one is pooled to [N, H] (:func:`pool_features`).  Targets come from the data
samples' ``gt_label`` (concatenated, so a conversation sample gives one label per
utterance; -1 marks an unlabelled one).

A new head subclasses :class:`BranchHead` and implements :meth:`BranchHead.branch_logits`.
"""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmpretrain.evaluation.metrics import Accuracy
from mmpretrain.models.heads import ClsHead
from mmpretrain.structures import DataSample

from vega_mm.registry import MODELS
from vega_mm.structures import ConversationDataSample
from vega_mm.utils.merge import merge_derived

__all__ = ['BranchHead', 'PREDICT_WITH', 'prediction_logits', 'pool_features', 'gt_labels']

#: What a model with a label-space and an anchor-space branch predicts with.
PREDICT_WITH = ('label', 'anchor', 'mean')


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


def num_segs_of(kwargs: Mapping, who: str) -> Optional[int]:
    """``num_segs`` that mmaction2 recognizers pass to their heads."""
    if kwargs.get('fcn_test'):
        raise NotImplementedError(f'{who}: fully-convolutional testing (fcn_test) is not '
                                  'supported')
    return kwargs.get('num_segs')


def _group_rows(fields: Dict[str, object], data_samples: Optional[List],
                lengths: Optional[Sequence[int]], who: str) -> List[Dict[str, object]]:
    """Per-row prediction fields -> one dict of fields per sample.

    ``lengths`` (conversations): sample i owns the next ``lengths[i]`` rows, its fields
    are [L_i, ...].  Without: one row per sample (fields [C]); several rows per sample
    (mmaction2 multi-view testing) are averaged.
    """
    def apply(fn):
        return {k: {b: fn(x) for b, x in v.items()} if isinstance(v, dict) else fn(v)
                for k, v in fields.items()}

    rows = fields['pred_score'].shape[0]
    if lengths is not None:
        lengths = [int(n) for n in lengths]
        if sum(lengths) != rows:
            raise ValueError(f'{who}.predict: {rows} score rows for dialogues of '
                             f'{sum(lengths)} utterances')
        out, start = [], 0
        for n in lengths:
            out.append(apply(lambda x, a=start, b=start + n: x[a:b]))
            start += n
        return out
    n = rows if not data_samples else len(data_samples)
    if rows % n:
        raise ValueError(f'{who}.predict: {rows} score rows for {n} data samples')
    views = rows // n
    return [apply(lambda x, i=i: x[i * views:(i + 1) * views].mean(0)) for i in range(n)]


class BranchHead(ClsHead):
    """Base of vega_mm's heads: branches, input handling, ``loss`` and ``predict``.

    Subclasses implement :meth:`branch_logits` (branch features [N, H] -> logits
    [N, C]); heads whose prediction is not the first branch's logits override
    :meth:`scores`, heads with an anchor space :meth:`anchor_similarity`.

    Args:
        num_classes: C.
        in_channels: H.
        branches: branch names; a single-branch head also reads mmpretrain features.
        loss: the loss module's config (``MultiBranchLoss`` by default; ``branches`` and
            ``loss_names`` are filled in) or a built module.
        topk, cal_acc, init_cfg: as in mmpretrain's ``ClsHead`` (``cal_acc`` logs the
            accuracy of the prediction during training).
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
                 init_cfg: Optional[dict] = None) -> None:
        branches = tuple(branches)
        if not branches:
            raise ValueError(f'{type(self).__name__}: branches must not be empty')
        if not isinstance(loss, nn.Module):
            where = f'{type(self).__name__}.loss'
            cfg = merge_derived(loss, where, dict(branches=(branches, 'its branches')))
            cfg.setdefault('type', 'MultiBranchLoss')
            cfg.setdefault('_scope_', 'vega_mm')  # buildable from any default scope
            cfg.setdefault('loss_names', self.loss_names)
            loss = MODELS.build(cfg)
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc, init_cfg=init_cfg)
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.branches = branches

    # ------------------------------------------------------------------ logits
    def branch_logits(self, feats: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
        """Branch features [N, H] -> logits [N, C], by name."""
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
        """Logits [N, C] by name.  ``kwargs``: ``num_segs`` of mmaction2 recognizers."""
        return self.branch_logits(
            self.pre_logits(feats, num_segs_of(kwargs, type(self).__name__)))

    def scores(self, logits: Dict[str, torch.Tensor]) -> torch.Tensor:
        """The logits [N, C] whose softmax is the prediction (the first branch's)."""
        return logits[self.branches[0]]

    def anchor_similarity(self, logits: Dict[str, torch.Tensor]) -> Optional[torch.Tensor]:
        """Cosine [N, C] of the prediction branch to every class anchor; None for a
        head without an anchor space."""
        return None

    # ------------------------------------------------------------------ loss
    def losses(self, logits: Dict[str, torch.Tensor], target: torch.Tensor,
               data_samples: List) -> Dict[str, torch.Tensor]:
        """The losses of computed logits and targets [N] (-1: unlabelled)."""
        return self.loss_module(logits, target)

    def loss(self, feats, data_samples: List, **kwargs) -> Dict[str, torch.Tensor]:
        """Losses from features and data samples (targets: their ``gt_label``)."""
        logits = self(feats, **kwargs)
        first = next(iter(logits.values()))
        target = gt_labels(data_samples, first.device, type(self).__name__)
        if first.shape[0] != target.shape[0]:
            raise ValueError(f'{type(self).__name__}.loss: {first.shape[0]} feature rows '
                             f'but {target.shape[0]} labels (several views per sample are '
                             'only supported in predict)')
        losses = self.losses(logits, target, data_samples)
        if self.cal_acc:
            losses.update(topk_accuracy(self.scores(logits), target, self.topk))
        return losses

    # ------------------------------------------------------------------ predict
    def predict(self, feats, data_samples: Optional[List] = None,
                lengths: Optional[Sequence[int]] = None, **kwargs) -> List:
        """Predictions written into the data samples (see the module docstring).

        Args:
            feats: as :meth:`forward`.
            data_samples: one per dialogue (conversations) or per image; None: new ones.
            lengths: utterances per dialogue (conversation models); None: one row (or
                several views, averaged) per sample, as mmpretrain heads.
        """
        return self.write_predictions(self(feats, **kwargs), data_samples, lengths)

    def write_predictions(self, logits: Dict[str, torch.Tensor],
                          data_samples: Optional[List] = None,
                          lengths: Optional[Sequence[int]] = None) -> List:
        """Computed logits -> data samples with every prediction field (the one place
        predictions are assembled)."""
        with torch.no_grad():
            fields = dict(pred_score=self.scores(logits).detach().float().softmax(-1),
                          branch_scores={k: v.detach().float().softmax(-1)
                                         for k, v in logits.items()})
            similarity = self.anchor_similarity(logits)
            if similarity is not None:
                fields['anchor_similarity'] = similarity.detach().float()
            groups = _group_rows(fields, data_samples, lengths, type(self).__name__)
        if data_samples is None:
            make = ConversationDataSample if lengths is not None else DataSample
            data_samples = [make() for _ in groups]
        for sample, group in zip(data_samples, groups):
            score = group['pred_score']
            sample.set_pred_score(score)
            sample.set_pred_label(score.argmax(-1) if lengths is not None
                                  else score.argmax(-1, keepdim=True))
            sample.set_field(group['branch_scores'], 'branch_scores', dtype=dict)
            sample.set_field({k: v.argmax(-1) for k, v in group['branch_scores'].items()},
                             'branch_pred_labels', dtype=dict)
            if 'anchor_similarity' in group:
                sample.set_field(group['anchor_similarity'], 'anchor_similarity',
                                 dtype=torch.Tensor)
        return data_samples

"""GraphSmile's sentiment-dynamics branch (Li et al., TPAMI 2025) on vega_mm's head.

GraphSmile trains its fused feature with three losses (``--loss_type emo_sen_sft``):
``lambda_0 NLL(emotion) + lambda_1 NLL(sentiment) + lambda_2 NLL(sentiment shift)``,
where the sentiment classifier is ``Linear(H, 3)`` on every utterance and the shift
classifier ``Linear(2H, 2)`` on ``[e_i; e_j]`` for every ordered pair (i, j), i = j
included, inside non-overlapping windows of ``shift_window`` utterances of a dialogue
(-1: the whole dialogue), whose label is 1 when the two sentiments differ.

Where the sentiment labels come from (``sentiment.source``):

- ``'samples'``: each data sample's ``gt_sentiment`` (LongTensor[L], -1 = unknown), for
  data that ships them, as the published code reads MELD's: a feature file extracted
  from MELD's tables carries their ``Sentiment`` column
  (:func:`~vega_mm.features.extract_features`), and the dataset puts it in every data
  sample. Training data without sentiments is refused before the first step
  (:meth:`GraphSmileHead.check_train_data`);
- ``'derive'``: ``emotion_to_sentiment[gt_label]``, as the published code does for
  IEMOCAP (happy, excited -> positive; neutral -> neutral; sad, angry, frustrated ->
  negative). For MELD files without sentiments (the public pickle): every MELD emotion
  but surprise has one sentiment in MELD's annotations (anger, disgust, fear, sadness:
  negative; joy: positive; neutral: neutral); surprise is split (614 negative, 591
  positive in the train split), so it maps to -1 (unknown) and those utterances are
  left out of both sentiment losses.

``sentiment=None`` turns the branch off (GraphSmile's ``--loss_type emo``). Unknown
sentiments (-1) and unlabelled utterances are ignored by both losses (a shift pair
counts only when both sentiments are known).
"""
from typing import Dict, List, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.registry import MODELS
from .dual_branch_head import DualBranchHead

__all__ = ['GraphSmileHead', 'IEMOCAP_SENTIMENTS', 'MELD_SENTIMENTS', 'shift_pairs']

#: Sentiment (0 negative, 1 neutral, 2 positive) of each IEMOCAP class in vega_mm's order
#: (happy, sad, neutral, anger, excited, frustrated), as GraphSmile derives it.
IEMOCAP_SENTIMENTS = (2, 0, 1, 0, 2, 0)
#: MELD (neutral, surprise, fear, sadness, joy, disgust, anger): surprise is unknown (-1).
MELD_SENTIMENTS = (1, -1, 0, 0, 2, 0, 0)

_SOURCES = ('samples', 'derive')


def shift_pairs(lengths: Sequence[int], window: int, device=None) -> torch.Tensor:
    """Rows ``(i, j)`` [2, P] of the shift pairs over utterances numbered dialogue by
    dialogue, in the published order (dialogue, window, i, j)."""
    lengths = torch.as_tensor(list(lengths), device=device)
    L = int(lengths.max())
    pos = torch.arange(L, device=device)
    mask = pos[None] < lengths[:, None]
    chunk = pos // window if window > 0 else torch.zeros_like(pos)
    same = chunk[:, None] == chunk[None, :]
    b, i, j = (same[None] & mask[:, :, None] & mask[:, None, :]).nonzero(as_tuple=True)
    offsets = torch.cumsum(lengths, 0) - lengths
    return torch.stack([offsets[b] + i, offsets[b] + j])


@MODELS.register_module()
class GraphSmileHead(DualBranchHead):
    """:class:`DualBranchHead` plus GraphSmile's sentiment-dynamics losses on the fused
    feature (see the module docstring); with or without VEGA's anchor space.

    Args:
        sentiment: None (off) or a dict with ``source`` (``'samples'`` or ``'derive'``),
            ``emotion_to_sentiment`` (one sentiment in {-1, 0, 1, 2} per class; needed by
            ``'derive'``), ``shift_window`` (an int > 0, or -1), ``loss_weights``
            (``(lambda_1, lambda_2)``), ``num_sentiments`` (3).
        **kwargs: as :class:`DualBranchHead`.
    """

    def __init__(self, *args, sentiment: Optional[dict] = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.sentiment = None
        if sentiment is None:
            return
        cfg = dict(sentiment)
        unknown = set(cfg) - {'source', 'emotion_to_sentiment', 'shift_window',
                              'loss_weights', 'num_sentiments'}
        if unknown:
            raise ValueError(f'GraphSmileHead.sentiment has unknown keys {sorted(unknown)}')
        source = cfg.get('source', 'derive')
        if source not in _SOURCES:
            raise ValueError(f'GraphSmileHead.sentiment.source must be one of {_SOURCES}, '
                             f'got {source!r}')
        num = int(cfg.get('num_sentiments', 3))
        mapping = cfg.get('emotion_to_sentiment')
        if source == 'derive':
            if mapping is None or len(mapping) != self.num_classes or \
                    any(int(s) < -1 or int(s) >= num for s in mapping):
                raise ValueError(
                    f"GraphSmileHead.sentiment.source='derive' needs emotion_to_sentiment: "
                    f'one sentiment in [-1, {num}) per class ({self.num_classes}), got '
                    f'{mapping!r}')
            self.register_buffer('emotion_to_sentiment',
                                 torch.tensor([int(s) for s in mapping]), persistent=False)
        window = cfg.get('shift_window', 12)
        if isinstance(window, bool) or not isinstance(window, int) or \
                (window < 1 and window != -1):
            raise ValueError('GraphSmileHead.sentiment.shift_window must be a positive '
                             f'integer or -1 (whole dialogue), got {window!r}')
        weights = tuple(float(w) for w in cfg.get('loss_weights', (1.0, 1.0)))
        if len(weights) != 2:
            raise ValueError('GraphSmileHead.sentiment.loss_weights must be (sentiment, '
                             f'shift), got {cfg.get("loss_weights")!r}')
        self.sentiment = dict(source=source, shift_window=window, loss_weights=weights)
        self.sentiment_classifier = nn.Linear(self.in_channels, num)
        self.shift_classifier = nn.Linear(2 * self.in_channels, 2)

    def check_train_data(self, dataset) -> None:
        """Refuse, before training starts, training data that lacks what
        ``sentiment.source='samples'`` reads (the runner calls this).

        Args:
            dataset: the training dataset (items are raw dialogues; those carrying
                sentiments have ``sentiments``).

        Raises:
            ValueError: one line naming the file, the missing key and the two fixes.
        """
        if self.sentiment is None or self.sentiment['source'] != 'samples':
            return
        for i in range(len(dataset)):
            info = dataset.get_data_info(i)
            if info.get('sentiments') is None:
                src = getattr(dataset, 'ann_file', '') or type(dataset).__name__
                raise ValueError(
                    f"{src}: dialogue {info.get('dialogue_id')!r} has no 'sentiments' but "
                    "model.head.sentiment.source='samples' trains on them; re-extract the "
                    'features from tables with a sentiment column (tools/extract_features.py'
                    " keeps MELD's Sentiment), or set model.head.sentiment.source='derive' "
                    '(with emotion_to_sentiment)')

    def sentiment_targets(self, data_samples: List, device) -> torch.Tensor:
        """Sentiments [N] of the utterances (-1: unknown), from the configured source."""
        if self.sentiment['source'] == 'samples':
            missing = [getattr(s, 'dialogue_id', i) for i, s in enumerate(data_samples)
                       if 'gt_sentiment' not in s]
            if missing:
                raise ValueError(
                    "GraphSmileHead: sentiment.source='samples' needs gt_sentiment in every "
                    f'data sample; dialogue {missing[0]!r} has none (re-extract the '
                    'features from tables with a sentiment column, or use '
                    "source='derive' with emotion_to_sentiment)")
            return torch.cat([torch.as_tensor(s.gt_sentiment).reshape(-1)
                              for s in data_samples]).to(device).long()
        labels = torch.cat([s.gt_label.reshape(-1) for s in data_samples]).to(device).long()
        table = self.emotion_to_sentiment.to(device)
        return torch.where(labels >= 0, table[labels.clamp_min(0)], labels.new_tensor(-1))

    def sentiment_logits(self, fused: torch.Tensor, lengths: Sequence[int]):
        """(sentiment logits [N, 3], shift logits [P, 2], shift pairs [2, P])."""
        pairs = shift_pairs(lengths, self.sentiment['shift_window'], fused.device)
        shift_in = torch.cat([fused[pairs[0]], fused[pairs[1]]], dim=-1)
        return self.sentiment_classifier(fused), self.shift_classifier(shift_in), pairs

    def loss(self, feats, data_samples: List, **kwargs) -> Dict[str, torch.Tensor]:
        losses = super().loss(feats, data_samples, **kwargs)
        if self.sentiment is None:
            return losses
        fused = feats['fused']
        lengths = [len(s.gt_label.reshape(-1)) for s in data_samples]
        sen = self.sentiment_targets(data_samples, fused.device)
        if sen.shape[0] != fused.shape[0]:
            raise ValueError(f'GraphSmileHead: {sen.shape[0]} sentiment labels for '
                             f'{fused.shape[0]} utterances')
        sen_logits, shift_logits, pairs = self.sentiment_logits(fused, lengths)
        a, b = sen[pairs[0]], sen[pairs[1]]
        shift = torch.where((a >= 0) & (b >= 0), (a != b).long(), a.new_tensor(-1))
        w_sen, w_shift = self.sentiment['loss_weights']
        zero = fused.sum() * 0   # keeps the graph when a batch has no known sentiment
        losses['loss_sentiment'] = w_sen * (
            F.cross_entropy(sen_logits, sen, ignore_index=-1) if (sen >= 0).any() else zero)
        losses['loss_shift'] = w_shift * (
            F.cross_entropy(shift_logits, shift, ignore_index=-1) if (shift >= 0).any()
            else zero)
        return losses

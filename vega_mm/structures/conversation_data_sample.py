"""The per-dialogue data sample."""
from typing import Dict, Sequence, Union

import numpy as np
import torch
from mmengine.structures import BaseDataElement

LabelLike = Union[torch.Tensor, np.ndarray, Sequence[int]]


def _as_long(value: LabelLike) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.long()
    return torch.as_tensor(np.asarray(value), dtype=torch.long)


class ConversationDataSample(BaseDataElement):
    """Labels and predictions of one dialogue (the model's inputs, features and speakers,
    travel in ``inputs``, see :class:`~vega_mm.datasets.PackConversationInputs`).

    Data fields (all indexed by utterance, length ``L`` = ``num_utterances``):

    - ``gt_label`` (LongTensor[L]): class index per utterance, ``-1`` where unlabelled.
    - ``gt_sentiment`` (LongTensor[L], optional): sentiment per utterance (index into
      :data:`~vega_mm.structures.meta.SENTIMENTS`), ``-1`` where unknown; present when
      the feature file carries sentiments (MELD tables do).
    - ``pred_label`` (LongTensor[L]) and ``pred_score`` (Tensor[L, C]): the prediction.
    - ``branch_pred_labels`` (dict[str, LongTensor[L]]): the prediction of every branch
      (``text``, ``audio``, ``visual``, ``fused`` in label space and ``anchor_fused`` etc.
      in anchor space), used for per-branch metrics.

    Meta fields: ``dialogue_id`` (str), ``num_utterances`` (int), ``utterance_ids``
    (list, optional), ``sample_idx`` (int).
    """

    def set_gt_label(self, value: LabelLike) -> 'ConversationDataSample':
        self.set_field(_as_long(value), 'gt_label', dtype=torch.Tensor)
        return self

    def set_gt_sentiment(self, value: LabelLike) -> 'ConversationDataSample':
        self.set_field(_as_long(value), 'gt_sentiment', dtype=torch.Tensor)
        return self

    def set_pred_score(self, value: torch.Tensor) -> 'ConversationDataSample':
        self.set_field(value, 'pred_score', dtype=torch.Tensor)
        return self

    def set_pred_label(self, value: LabelLike) -> 'ConversationDataSample':
        self.set_field(_as_long(value), 'pred_label', dtype=torch.Tensor)
        return self

    def set_branch_pred_labels(
            self, value: Dict[str, torch.Tensor]) -> 'ConversationDataSample':
        self.set_field(dict(value), 'branch_pred_labels', dtype=dict)
        return self

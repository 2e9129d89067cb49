"""Per-dialogue data transforms."""
from typing import Dict, Optional, Sequence, Union

import numpy as np
import torch
from mmcv.transforms import BaseTransform

from vega_mm.registry import TRANSFORMS
from vega_mm.structures import ConversationDataSample

__all__ = ['FeatureDimMask', 'PackConversationInputs']


def _as_tuple(modalities: Optional[Union[str, Sequence[str]]]) -> Optional[tuple]:
    if modalities is None:
        return None
    return (modalities, ) if isinstance(modalities, str) else tuple(modalities)


@TRANSFORMS.register_module()
class FeatureDimMask(BaseTransform):
    """Zero a random subset of feature dimensions per dialogue and modality.

    The VEGA training augmentation: for each dialogue and each chosen modality, some of
    the ``D`` feature dimensions are set to zero for all its utterances. Which ones:

    - ``mode='bernoulli'`` (default, the published augmentation): each dimension
      independently with probability ``ratio``, so the count varies from draw to draw
      (``ratio * D`` on average, possibly none);
    - ``mode='fixed'``: exactly ``round(ratio * D)`` dimensions, drawn without
      replacement.

    Randomness comes from numpy's global RNG (``np.random``), which the Runner seeds
    (``randomness=dict(seed=...)``) in the main process and in every dataloader worker,
    so runs are reproducible. The input arrays are not modified (the masked ones are
    copies).

    Args:
        ratio: probability (``'bernoulli'``) or fraction (``'fixed'``) of dimensions
            zeroed, in ``[0, 1]``.
        modalities: the modalities to mask; None masks every modality of the item.
        prob: probability of masking a given dialogue and modality.
        mode: ``'bernoulli'`` or ``'fixed'``.
    """

    MODES = ('bernoulli', 'fixed')

    def __init__(self,
                 ratio: float = 0.1,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 prob: float = 1.0,
                 mode: str = 'bernoulli') -> None:
        if not 0 <= ratio <= 1:
            raise ValueError(f'ratio must be in [0, 1], got {ratio}')
        if not 0 <= prob <= 1:
            raise ValueError(f'prob must be in [0, 1], got {prob}')
        if mode not in self.MODES:
            raise ValueError(f'FeatureDimMask: mode must be one of {self.MODES}, got {mode!r}')
        self.ratio = ratio
        self.modalities = _as_tuple(modalities)
        self.prob = prob
        self.mode = mode

    def _dims(self, num_dims: int) -> np.ndarray:
        """The dimensions to zero (indices), drawn from ``np.random``."""
        if self.mode == 'bernoulli':
            return np.flatnonzero(np.random.rand(num_dims) < self.ratio)
        k = int(round(self.ratio * num_dims))
        return np.random.choice(num_dims, size=k, replace=False) if k else np.zeros(0, int)

    def transform(self, results: dict) -> dict:
        feats: Dict[str, np.ndarray] = results['features']
        # the dataset (or the inferencer) has checked that the modalities are there
        modalities = self.modalities if self.modalities is not None else tuple(feats)
        out = dict(feats)
        for m in modalities:
            x = feats[m]
            never = self.ratio == 0 or (self.mode == 'fixed' and
                                        int(round(self.ratio * x.shape[-1])) == 0)
            if never or (self.prob < 1 and np.random.rand() >= self.prob):
                continue
            dims = self._dims(x.shape[-1])
            if len(dims) == 0:
                continue
            x = np.array(x, copy=True)
            x[..., dims] = 0
            out[m] = x
        results['features'] = out
        return results

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ratio={self.ratio}, modalities={self.modalities}, '
                f'prob={self.prob}, mode={self.mode!r})')


@TRANSFORMS.register_module()
class PackConversationInputs(BaseTransform):
    """Pack a raw dialogue into model inputs and a :class:`ConversationDataSample`.

    Output::

        dict(inputs=dict(feats={modality: float32 Tensor[L, D]}, speakers=LongTensor[L]),
             data_samples=ConversationDataSample(
                 gt_label=LongTensor[L], gt_sentiment=LongTensor[L] (if the dialogue
                 has ``sentiments``),
                 metainfo=dict(dialogue_id, num_utterances, sample_idx[, utterance_ids,
                               texts, speaker_names, starts, ends])))

    Everything the model reads is in ``inputs``, in the layout of the batch that
    :func:`~vega_mm.datasets.conversation_collate` makes of it (without the batch
    axis and the mask); the data sample holds what the metrics and the user read.
    A dialogue without ``labels`` (inference) gets ``gt_label`` all ``-1``.

    Args:
        modalities: the modalities to pack, in this order; None packs all of the item.
            A requested modality missing from the item is an error.
    """

    #: Per-utterance lists of the raw dialogue carried into the data sample's metainfo.
    PER_UTTERANCE = ('utterance_ids', 'texts', 'speaker_names', 'starts', 'ends')

    def __init__(self, modalities: Optional[Union[str, Sequence[str]]] = None) -> None:
        self.modalities = _as_tuple(modalities)

    def transform(self, results: dict) -> dict:
        feats = results.get('features')
        if not isinstance(feats, dict):
            raise ValueError(f"{type(self).__name__}: dialogue "
                             f"{results.get('dialogue_id')!r} has no 'features' dict")
        modalities = self.modalities if self.modalities is not None else tuple(feats)
        feats = {
            m: torch.from_numpy(np.ascontiguousarray(feats[m], dtype=np.float32))
            for m in modalities
        }
        if 'speakers' not in results:
            raise ValueError(f"{type(self).__name__}: dialogue "
                             f"{results.get('dialogue_id')!r} has no 'speakers'")
        speakers = np.asarray(results['speakers'], dtype=np.int64)
        n = len(speakers)
        labels = results.get('labels')
        labels = np.full(n, -1, dtype=np.int64) if labels is None else np.asarray(
            labels, dtype=np.int64)
        sample = ConversationDataSample()
        sample.set_gt_label(labels)
        if results.get('sentiments') is not None:  # feature files made from MELD's tables
            sample.set_gt_sentiment(np.asarray(results['sentiments'], dtype=np.int64))
        meta = dict(
            dialogue_id=results.get('dialogue_id'),
            num_utterances=n,
            sample_idx=results.get('sample_idx'))
        for key in self.PER_UTTERANCE:
            if results.get(key) is not None:
                meta[key] = list(results[key])
        sample.set_metainfo(meta)
        inputs = dict(feats=feats, speakers=torch.from_numpy(speakers))
        return dict(inputs=inputs, data_samples=sample)

    def __repr__(self) -> str:
        return f'{type(self).__name__}(modalities={self.modalities})'

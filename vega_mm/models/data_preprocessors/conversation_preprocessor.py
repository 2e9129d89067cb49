"""Pads a list of dialogues into batch tensors with a mask."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from vega_mm.registry import MODELS


@MODELS.register_module()
class ConversationDataPreprocessor(BaseDataPreprocessor):
    """Collated dialogues -> ``dict(feats, mask, speakers)`` padded to the longest one.

    Input ``data`` is what ``pseudo_collate`` makes of the pipeline's output
    (:class:`~vega_mm.datasets.PackConversationInputs`): ``inputs`` a list of
    ``dict(feats={m: Tensor[L_i, D_m]}, speakers=LongTensor[L_i])`` (or the dict of lists
    ``pseudo_collate`` turns it into) and ``data_samples`` a list of
    :class:`ConversationDataSample`.

    Returns:
        The batch,
        ``dict(inputs=dict(feats={m: [B, L, D_m]}, mask=[B, L] bool,
        speakers=[B, L] long), data_samples=list)`` on the model's device; padded
        features are 0 and padded speakers are ``num_speakers``.

    Args:
        modalities: modalities to keep (None = all in the batch).  A requested modality
            missing from a dialogue is an error naming the dialogue.
        num_speakers: the number of speakers; indices must lie in ``[0, num_speakers)``,
            and ``num_speakers`` is the padding index.
    """

    def __init__(self, modalities: Optional[Sequence[str]] = None, num_speakers: int = 2,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.modalities = None if modalities is None else tuple(modalities)
        self.num_speakers = num_speakers

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        samples = data.get('data_samples')
        if isinstance(inputs, dict) and 'mask' in inputs:  # already a padded batch
            return self.cast_data(data)
        items = self._items(inputs, samples)
        modalities = self.modalities or tuple(items[0]['feats'])
        lengths = [self._length(item, modalities, samples, i) for i, item in enumerate(items)]
        batch, max_len = len(items), max(lengths)
        feats = {}
        for m in modalities:
            dim = int(items[0]['feats'][m].shape[-1])
            out = items[0]['feats'][m].new_zeros(batch, max_len, dim, dtype=torch.float32)
            for i, item in enumerate(items):
                if item['feats'][m].shape[-1] != dim:
                    raise ValueError(f'dialogue {self._name(samples, i)}: {m} features have '
                                     f'dimension {item["feats"][m].shape[-1]}, the batch has '
                                     f'{dim}')
                out[i, :lengths[i]] = item['feats'][m]
            feats[m] = out
        lengths_t = torch.tensor(lengths)
        mask = torch.arange(max_len)[None, :] < lengths_t[:, None]
        speakers = torch.full((batch, max_len), self.num_speakers, dtype=torch.long)
        for i, item in enumerate(items):
            speakers[i, :lengths[i]] = self._speakers(item, lengths[i], samples, i)
        batch_inputs = dict(feats=feats, mask=mask, speakers=speakers)
        return self.cast_data(dict(inputs=batch_inputs, data_samples=samples))

    def _items(self, inputs, samples) -> List[dict]:
        """The per-dialogue input dicts, whether ``pseudo_collate`` left a list of them or
        turned them into a dict of lists."""
        if isinstance(inputs, dict):
            if not isinstance(inputs.get('feats'), dict) or 'speakers' not in inputs:
                raise ValueError(
                    'ConversationDataPreprocessor: inputs must be dialogues as '
                    'PackConversationInputs makes them, dict(feats={modality: Tensor[L, D]}, '
                    f'speakers=LongTensor[L]); got a dict with keys {sorted(inputs)}')
            feats = inputs['feats']
            inputs = [dict(feats={m: feats[m][i] for m in feats}, speakers=spk)
                      for i, spk in enumerate(inputs['speakers'])]
        if not inputs:
            raise ValueError('ConversationDataPreprocessor got an empty batch')
        for i, item in enumerate(inputs):
            if not (isinstance(item, dict) and isinstance(item.get('feats'), dict)
                    and 'speakers' in item):
                keys = sorted(item) if isinstance(item, dict) else type(item).__name__
                raise ValueError(
                    f'dialogue {self._name(samples, i)}: inputs must be '
                    'dict(feats={modality: Tensor[L, D]}, speakers=LongTensor[L]) as '
                    f'PackConversationInputs makes them; got {keys}')
        return list(inputs)

    def _length(self, item: dict, modalities: Sequence[str], samples, i: int) -> int:
        missing = [m for m in modalities if m not in item['feats']]
        if missing:
            raise KeyError(f'dialogue {self._name(samples, i)}: no {missing} features (it has '
                           f'{sorted(item["feats"])}); the model asks for {list(modalities)}')
        sizes = {m: int(item['feats'][m].shape[0]) for m in modalities}
        if len(set(sizes.values())) != 1:
            raise ValueError(f'dialogue {self._name(samples, i)}: modalities have different '
                             f'utterance counts {sizes}')
        return next(iter(sizes.values()))

    def _speakers(self, item: dict, length: int, samples, i: int) -> torch.Tensor:
        spk = torch.as_tensor(item['speakers']).long().reshape(-1)
        if spk.numel() != length:
            raise ValueError(f'dialogue {self._name(samples, i)}: {spk.numel()} speakers '
                             f'for {length} utterances')
        if spk.numel() and (int(spk.min()) < 0 or int(spk.max()) >= self.num_speakers):
            raise ValueError(f'dialogue {self._name(samples, i)}: speaker indices '
                             f'{int(spk.min())}..{int(spk.max())} outside '
                             f'[0, num_speakers={self.num_speakers})')
        return spk

    @staticmethod
    def _name(samples: Optional[list], i: int) -> str:
        if samples is not None and i < len(samples):
            did = samples[i].metainfo.get('dialogue_id')
            if did is not None:
                return repr(did)
        return f'#{i} of the batch'

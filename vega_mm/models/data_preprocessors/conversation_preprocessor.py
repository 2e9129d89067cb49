"""Pads a list of dialogues into batch tensors with a mask."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseDataPreprocessor

from vega_mm.registry import MODELS


@MODELS.register_module()
class ConversationDataPreprocessor(BaseDataPreprocessor):
    """Collated dialogues -> ``dict(feats, mask, speakers)`` padded to the longest one.

    Input ``data`` is what ``pseudo_collate`` makes of the pipeline's output:
    ``inputs`` a dict modality -> list of Tensor[L_i, D_m] (or a list of per-dialogue
    dicts) and ``data_samples`` a list of :class:`ConversationDataSample`.

    Returns:
        ``dict(inputs=dict(feats={m: [B, L, D_m]}, mask=[B, L] bool,
        speakers=[B, L] long), data_samples=list)`` on the model's device; padded
        features are 0 and padded speakers are ``num_speakers``.

    Args:
        modalities: modalities to keep (None = all in the batch).  A requested modality
            missing from a dialogue is an error naming the dialogue.
        num_speakers: the speaker padding index.
    """

    def __init__(self, modalities: Optional[Sequence[str]] = None, num_speakers: int = 2,
                 non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.modalities = None if modalities is None else tuple(modalities)
        self.num_speakers = num_speakers

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data['inputs']
        samples = data.get('data_samples')
        if isinstance(inputs, dict):
            if 'mask' in inputs:  # already a padded batch
                return self.cast_data(data)
            # pseudo_collate turns a list of dicts into a dict of lists
            lists = list(inputs.values())
            inputs = [dict(zip(inputs, items)) for items in zip(*lists)]
        if not inputs:
            raise ValueError('ConversationDataPreprocessor got an empty batch')
        modalities = self.modalities or tuple(inputs[0].keys())
        lengths = []
        for i, item in enumerate(inputs):
            name = self._name(samples, i)
            missing = [m for m in modalities if m not in item]
            if missing:
                raise KeyError(f'dialogue {name}: no {missing} features (it has '
                               f'{sorted(item)}); the model asks for {list(modalities)}')
            sizes = {m: int(item[m].shape[0]) for m in modalities}
            if len(set(sizes.values())) != 1:
                raise ValueError(f'dialogue {name}: modalities have different utterance '
                                 f'counts {sizes}')
            lengths.append(next(iter(sizes.values())))
        batch, max_len = len(inputs), max(lengths)
        feats = {}
        for m in modalities:
            dim = int(inputs[0][m].shape[-1])
            out = inputs[0][m].new_zeros(batch, max_len, dim, dtype=torch.float32)
            for i, item in enumerate(inputs):
                if item[m].shape[-1] != dim:
                    raise ValueError(f'dialogue {self._name(samples, i)}: {m} features '
                                     f'have dimension {item[m].shape[-1]}, the batch has {dim}')
                out[i, :lengths[i]] = item[m]
            feats[m] = out
        lengths_t = torch.tensor(lengths)
        mask = torch.arange(max_len)[None, :] < lengths_t[:, None]
        speakers = torch.full((batch, max_len), self.num_speakers, dtype=torch.long)
        if samples is not None:
            for i, s in enumerate(samples):
                if 'speaker' in s:
                    spk = s.speaker
                    if spk.numel() != lengths[i]:
                        raise ValueError(f'dialogue {self._name(samples, i)}: '
                                         f'{spk.numel()} speakers for {lengths[i]} utterances')
                    if spk.numel() and (int(spk.min()) < 0 or
                                        int(spk.max()) >= self.num_speakers):
                        raise ValueError(
                            f'dialogue {self._name(samples, i)}: speaker indices '
                            f'{int(spk.min())}..{int(spk.max())} outside '
                            f'[0, num_speakers={self.num_speakers})')
                    speakers[i, :lengths[i]] = spk
        batch_inputs = dict(feats=feats, mask=mask, speakers=speakers)
        return self.cast_data(dict(inputs=batch_inputs, data_samples=samples))

    @staticmethod
    def _name(samples: Optional[list], i: int) -> str:
        if samples is not None and i < len(samples):
            did = samples[i].metainfo.get('dialogue_id')
            if did is not None:
                return repr(did)
        return f'#{i} of the batch'

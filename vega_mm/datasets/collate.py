"""The one collate of vega_mm: packed dialogues -> one padded batch.

Every batch of the package goes through :func:`conversation_collate`: the data loaders
of every config (``collate_fn=dict(type='vega_mm.conversation_collate')``), the
inferencer, the live mode and :func:`~vega_mm.datasets.random_dialogue_batch`. The
data preprocessor then only casts the batch and moves it to the model's device.
"""
from typing import Dict, List, Optional, Sequence

import torch

from vega_mm.registry import FUNCTIONS

__all__ = ['conversation_collate', 'SPEAKER_PADDING']

#: The speaker index of padded positions (the backbone replaces it by its own padding
#: index, ``num_speakers``, before it reads the speakers).
SPEAKER_PADDING = -1


def _name(sample, i: int) -> str:
    did = None if sample is None else sample.metainfo.get('dialogue_id')
    return f'#{i} of the batch' if did is None else repr(did)


def _lengths(items: List[dict], samples: List) -> List[int]:
    """Each dialogue's utterance count; its modalities and speakers must agree on it,
    and every dialogue must have the first one's modalities."""
    modalities = list(items[0]['feats'])
    lengths = []
    for i, item in enumerate(items):
        if sorted(item['feats']) != sorted(modalities):
            raise ValueError(f'dialogue {_name(samples[i], i)}: modalities '
                             f'{sorted(item["feats"])}, the batch has {sorted(modalities)}')
        sizes = {m: int(item['feats'][m].shape[0]) for m in modalities}
        sizes['speakers'] = int(torch.as_tensor(item['speakers']).numel())
        if len(set(sizes.values())) != 1:
            raise ValueError(f'dialogue {_name(samples[i], i)}: modalities and speakers '
                             f'have different utterance counts {sizes}')
        lengths.append(sizes['speakers'])
    return lengths


def _check_item(item, sample, i: int) -> None:
    if not (isinstance(item, dict) and isinstance(item.get('feats'), dict) and item['feats']
            and 'speakers' in item):
        keys = sorted(item) if isinstance(item, dict) else type(item).__name__
        raise ValueError(
            f'conversation_collate: dialogue {_name(sample, i)}: inputs must be '
            'dict(feats={modality: Tensor[L, D]}, speakers=LongTensor[L]) as '
            f'PackConversationInputs makes them; got {keys}')


@FUNCTIONS.register_module()
def conversation_collate(data_batch: Sequence[dict],
                         _scope_: Optional[str] = None) -> Dict[str, object]:
    """Pad a list of packed dialogues (the output of
    :class:`~vega_mm.datasets.PackConversationInputs`) into one batch.

    Args:
        data_batch: one dict per dialogue, ``inputs`` holding ``feats`` (modality ->
            Tensor ``[L_i, D_m]``) and ``speakers`` (LongTensor ``[L_i]``), and
            ``data_samples`` its :class:`ConversationDataSample`.
        _scope_: ignored; MMEngine adds it to every registered dict of a config that
            inherits one of vega_mm's through ``vega_mm::`` (the collate_fn included)
            and passes it to the function.

    Returns:
        A dict: ``inputs`` holding ``feats`` (modality -> float32 ``[B, L, D_m]``),
        ``mask`` (bool ``[B, L]``) and ``speakers`` (long ``[B, L]``), and
        ``data_samples`` (the list of data samples), with ``L`` the longest dialogue;
        padded features are 0 and padded speakers :data:`SPEAKER_PADDING`.

    Raises:
        ValueError: an empty batch, an item that is not a packed dialogue, or dialogues
            whose modalities, feature dimensions or utterance counts disagree (the
            message names the dialogue).
    """
    if not data_batch:
        raise ValueError('conversation_collate got an empty batch')
    items = [d['inputs'] for d in data_batch]
    samples = [d.get('data_samples') for d in data_batch]
    for i, (item, sample) in enumerate(zip(items, samples)):
        _check_item(item, sample, i)
    lengths = _lengths(items, samples)
    batch, max_len = len(items), max(lengths)
    feats = {}
    for m in items[0]['feats']:
        dim = int(items[0]['feats'][m].shape[-1])
        out = torch.zeros(batch, max_len, dim, dtype=torch.float32)
        for i, item in enumerate(items):
            if item['feats'][m].shape[-1] != dim:
                raise ValueError(f'dialogue {_name(samples[i], i)}: {m} features have '
                                 f'dimension {item["feats"][m].shape[-1]}, the batch has '
                                 f'{dim}')
            out[i, :lengths[i]] = item['feats'][m]
        feats[m] = out
    mask = torch.arange(max_len)[None, :] < torch.tensor(lengths)[:, None]
    speakers = torch.full((batch, max_len), SPEAKER_PADDING, dtype=torch.long)
    for i, item in enumerate(items):
        speakers[i, :lengths[i]] = torch.as_tensor(item['speakers']).long().reshape(-1)
    return dict(inputs=dict(feats=feats, mask=mask, speakers=speakers),
                data_samples=samples)

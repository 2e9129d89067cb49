"""Moves a padded batch of dialogues to the model's device."""
from typing import Optional, Sequence

from mmengine.model import BaseDataPreprocessor

from vega_mm.registry import MODELS


@MODELS.register_module()
class ConversationDataPreprocessor(BaseDataPreprocessor):
    """The batch of :func:`~vega_mm.datasets.conversation_collate`, cast and on the
    model's device.

    The collate pads the batch once (``dict(inputs=dict(feats={m: [B, L, D_m]},
    mask=[B, L] bool, speakers=[B, L] long), data_samples=list)``); this only moves it,
    and the backbone checks it against what it was configured with.

    Args:
        modalities: the model's modalities (filled in by
            :class:`~vega_mm.models.ConversationClassifier`; the backbone reads only these).
        num_speakers: the model's speaker count (filled in by the classifier from
            ``model.backbone.num_speakers``, or giving it).
        non_blocking: copy to the device asynchronously.
    """

    def __init__(self, modalities: Optional[Sequence[str]] = None,
                 num_speakers: Optional[int] = None, non_blocking: bool = False) -> None:
        super().__init__(non_blocking=non_blocking)
        self.modalities = None if modalities is None else tuple(modalities)
        self.num_speakers = num_speakers

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data.get('inputs') if isinstance(data, dict) else None
        if not (isinstance(inputs, dict) and 'mask' in inputs):
            got = sorted(inputs) if isinstance(inputs, dict) else type(inputs).__name__
            raise ValueError(
                'ConversationDataPreprocessor takes the padded batch of '
                "vega_mm.conversation_collate (a data loader's collate_fn="
                f"dict(type='vega_mm.conversation_collate')); got inputs {got}")
        return self.cast_data(data)

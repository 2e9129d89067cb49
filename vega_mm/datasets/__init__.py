"""Conversation datasets, feature-file formats, synthetic data and transforms.

Importing this package registers :class:`ConversationDataset`,
:class:`SyntheticConversationDataset` (``DATASETS``), :class:`FeatureDimMask` and
:class:`PackConversationInputs` (``TRANSFORMS``) and :func:`conversation_collate`
(``FUNCTIONS``, the one collate of every batch).
"""
from . import formats
from .collate import conversation_collate
from .conversation_dataset import ConversationDataset
from .formats import (ConversationCollection, load_conversations, load_native,
                      safe_load_pickle, save_native)
from .synthetic import (SyntheticConversationDataset, make_synthetic_conversations,
                        random_dialogue_batch, random_dialogues)
from .transforms import FeatureDimMask, PackConversationInputs

__all__ = [
    'formats', 'ConversationDataset', 'SyntheticConversationDataset', 'FeatureDimMask',
    'PackConversationInputs', 'ConversationCollection', 'load_conversations',
    'save_native', 'load_native', 'safe_load_pickle', 'make_synthetic_conversations',
    'random_dialogue_batch', 'random_dialogues', 'conversation_collate'
]

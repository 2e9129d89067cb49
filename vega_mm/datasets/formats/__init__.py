"""Readers and writers of conversation feature files.

- :func:`load_conversations`: any supported file -> :class:`ConversationCollection`.
- :func:`save_native` / :func:`load_native`: vega_mm's own ``.npz`` format.
- :func:`safe_load_pickle`: a pickle reader that only rebuilds data.
"""
from vega_mm.utils.safe_pickle import ALLOWED_GLOBALS, UnsafePickleError, safe_load_pickle
from .collection import ConversationCollection, make_val_split, validate_collection
from .loader import DATA_FORMATS, detect_format, load_conversations
from .native import load_native, save_native
from .pickles import SDT_FIELDS, VEGA_FIELDS, read_pickle_conversations

__all__ = [
    'load_conversations', 'save_native', 'load_native', 'safe_load_pickle',
    'ConversationCollection', 'validate_collection', 'make_val_split', 'detect_format',
    'read_pickle_conversations', 'UnsafePickleError', 'ALLOWED_GLOBALS', 'DATA_FORMATS',
    'SDT_FIELDS', 'VEGA_FIELDS'
]

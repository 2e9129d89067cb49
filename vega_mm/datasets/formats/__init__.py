"""Training feature files: the SDT/VEGA pickles and vega_mm's native ``.npz``.

- :func:`load_conversations`: any feature file -> :class:`ConversationCollection`.
- :func:`save_native` / :func:`load_native`: vega_mm's own ``.npz`` format.
- :func:`safe_load_pickle`: a pickle reader that only rebuilds data.
- :func:`detect_format`: which registered :class:`InputFormat` a file is (``.kind``:
  ``'features'`` or ``'table'``); :func:`input_formats`, :func:`accepted_suffixes`
  (the registry is :mod:`vega_mm.utils.input_format`).

Raw conversations (utterance tables, transcripts, subtitles, speakers) are read by
:mod:`vega_mm.conversations`; importing one of its names from here is an
``ImportError`` naming it.
"""
from vega_mm.conversations import __all__ as _conversation_names
# Importing the conversations registers the table formats; the registry lists feature
# files first whatever the order of registration.
from vega_mm.utils.input_format import (FEATURES, TABLE, InputFormat, accepted_suffixes,
                                        detect_format, format_of_variant, input_formats,
                                        register_format)
from vega_mm.utils.moved import moved_attribute
from vega_mm.utils.safe_pickle import ALLOWED_GLOBALS, UnsafePickleError, safe_load_pickle
from .collection import ConversationCollection, make_val_split, validate_collection
from .loader import DATA_FORMATS, NATIVE, PICKLE, load_conversations
from .native import load_native, save_native
from .pickles import SDT_FIELDS, VEGA_FIELDS, read_pickle_conversations

__all__ = [
    'load_conversations', 'save_native', 'load_native', 'safe_load_pickle',
    'ConversationCollection', 'validate_collection', 'make_val_split', 'detect_format',
    'read_pickle_conversations', 'UnsafePickleError', 'ALLOWED_GLOBALS', 'DATA_FORMATS',
    'SDT_FIELDS', 'VEGA_FIELDS', 'FEATURES', 'TABLE', 'InputFormat', 'register_format',
    'input_formats', 'accepted_suffixes', 'format_of_variant', 'PICKLE', 'NATIVE'
]

_MOVED_MODULES = {
    'table': 'vega_mm.conversations.tables', 'tables': 'vega_mm.conversations.corpus',
    'subtitles': 'vega_mm.conversations.subtitles',
    'utterances': 'vega_mm.conversations.utterances',
    'speakers': 'vega_mm.conversations.speakers',
    'decoding': 'vega_mm.conversations.decoding',
    'table_errors': 'vega_mm.conversations.errors',
    'input_format': 'vega_mm.utils.input_format',
}
__getattr__ = moved_attribute(__name__, {
    **{name: 'vega_mm.conversations' for name in _conversation_names}, **_MOVED_MODULES})

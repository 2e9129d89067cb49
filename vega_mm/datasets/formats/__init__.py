"""Every input vega_mm reads: feature files and conversation tables, in one registry.

- :func:`detect_format`: which registered :class:`InputFormat` a file is (``.kind``:
  ``'features'`` or ``'table'``); :func:`input_formats`, :func:`accepted_suffixes`.
- :func:`load_conversations`: any feature file -> :class:`ConversationCollection`.
- :func:`save_native` / :func:`load_native`: vega_mm's own ``.npz`` format.
- :func:`safe_load_pickle`: a pickle reader that only rebuilds data.
- :func:`read_conversation_table` / :func:`load_dialogues`: a CSV/TSV/JSONL table of
  utterances; :func:`load_tables`: the tables of one extraction, with splits, labels
  and speakers (:func:`build_speaker_map`).
- :func:`read_subtitles` / :func:`load_transcript`: ``.srt``/``.vtt`` transcripts of one
  recording (also table formats), :func:`check_cue_times`, :func:`overlapping_cues`.
- :func:`make_utterance`: the one validator of an utterance row, for table rows and
  for inference records (:func:`dialogue_from_records`).
"""
from vega_mm.utils.safe_pickle import ALLOWED_GLOBALS, UnsafePickleError, safe_load_pickle
# The readers register their formats on import: feature files first (the order of
# DATA_FORMATS and of messages), then tables.
from .loader import DATA_FORMATS, NATIVE, PICKLE, load_conversations  # noqa: I001
from .table import (COLUMN_ALIASES, CSV, JSONL, TABLE_FORMATS, load_dialogues,
                    read_conversation_table)
from .subtitles import (NOT_SPEAKERS, SRT, VTT, check_cue_times, format_timestamp,
                        load_transcript, overlapping_cues, read_subtitles)
from .collection import ConversationCollection, make_val_split, validate_collection
from .decoding import TextRepairs, decode_table_bytes
from .input_format import (FEATURES, TABLE, InputFormat, accepted_suffixes, detect_format,
                           format_of_variant, input_formats, register_format)
from .native import load_native, save_native
from .pickles import SDT_FIELDS, VEGA_FIELDS, read_pickle_conversations
from .speakers import OTHER_SPEAKER, build_speaker_map, speaker_key
from .table_errors import ConversationTableError
from .tables import (DISCOVER_CLASSES, MELD_TABLE_SPLITS, ConversationTables, TableSpec,
                     load_tables, meld_tables)
from .utterances import (RECORD_KEYS, Dialogue, Utterance, dialogue_from_records,
                         group_dialogues, id_key, make_utterance, parse_time)

__all__ = [
    'load_conversations', 'save_native', 'load_native', 'safe_load_pickle',
    'ConversationCollection', 'validate_collection', 'make_val_split', 'detect_format',
    'read_pickle_conversations', 'UnsafePickleError', 'ALLOWED_GLOBALS', 'DATA_FORMATS',
    'SDT_FIELDS', 'VEGA_FIELDS', 
    'FEATURES', 'TABLE', 'InputFormat', 'register_format',
    'input_formats', 'accepted_suffixes', 'format_of_variant', 'PICKLE', 'NATIVE', 'CSV',
    'JSONL', 'TABLE_FORMATS', 'COLUMN_ALIASES', 'read_conversation_table', 'load_dialogues',
    'TextRepairs', 'decode_table_bytes', 'ConversationTableError', 'Utterance', 'Dialogue',
    'RECORD_KEYS', 'make_utterance', 'dialogue_from_records', 'group_dialogues', 'id_key',
    'parse_time', 'OTHER_SPEAKER', 'build_speaker_map', 'speaker_key', 'TableSpec',
    'ConversationTables', 'load_tables', 'meld_tables', 'MELD_TABLE_SPLITS',
    'DISCOVER_CLASSES', 'SRT', 'VTT', 'NOT_SPEAKERS', 'read_subtitles', 'load_transcript',
    'check_cue_times', 'overlapping_cues', 'format_timestamp'
]

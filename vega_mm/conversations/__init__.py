"""Raw conversations: who said what, and when, before any feature is extracted.

- :func:`read_conversation_table` / :func:`load_dialogues` (:mod:`.tables`): a CSV/TSV
  or JSONL table of utterances (registered as the table formats ``'csv'`` and
  ``'jsonl'``).
- :func:`read_subtitles` / :func:`load_transcript` (:mod:`.subtitles`): ``.srt``/``.vtt``
  transcripts of one recording (registered as ``'srt'`` and ``'vtt'``),
  :func:`check_cue_times`, :func:`overlapping_cues`.
- :func:`load_tables` / :func:`meld_tables` (:mod:`.corpus`): the tables of one
  extraction, with splits, classes, labels and speakers.
- :func:`build_speaker_map` (:mod:`.speakers`): speaker names -> indices, one rule.
- :func:`make_utterance` (:mod:`.utterances`): the one validator of an utterance row,
  for table rows and for inference records (:func:`dialogue_from_records`).
- :func:`decode_table_bytes` (:mod:`.decoding`): text decoding with every repair reported.

Every error of bad input is a :class:`ConversationTableError` naming the file, the row
and what was expected.  Training feature files are :mod:`vega_mm.datasets.formats`; the
registry of input formats both kinds register in is :mod:`vega_mm.utils.input_format`.
"""
# Importing the readers registers their table formats (tables, then subtitles).
from .corpus import (DISCOVER_CLASSES, MELD_TABLE_SPLITS, ConversationTables, TableSpec,
                     load_tables, meld_tables)
from .decoding import TextRepairs, decode_table_bytes
from .errors import ConversationTableError
from .speakers import OTHER_SPEAKER, build_speaker_map, speaker_key
from .subtitles import (NOT_SPEAKERS, SRT, VTT, check_cue_times, format_timestamp,
                        load_transcript, overlapping_cues, read_subtitles)
from .tables import (COLUMN_ALIASES, CSV, JSONL, TABLE_FORMATS, load_dialogues,
                     read_conversation_table)
from .utterances import (RECORD_KEYS, Dialogue, Utterance, dialogue_from_records,
                         group_dialogues, id_key, make_utterance, parse_time)

__all__ = [
    'Utterance', 'Dialogue', 'RECORD_KEYS', 'make_utterance', 'dialogue_from_records',
    'group_dialogues', 'id_key', 'parse_time', 'ConversationTableError', 'TextRepairs',
    'decode_table_bytes', 'CSV', 'JSONL', 'TABLE_FORMATS', 'COLUMN_ALIASES',
    'read_conversation_table', 'load_dialogues', 'SRT', 'VTT', 'NOT_SPEAKERS',
    'read_subtitles', 'load_transcript', 'check_cue_times', 'overlapping_cues',
    'format_timestamp', 'OTHER_SPEAKER', 'build_speaker_map', 'speaker_key', 'TableSpec',
    'ConversationTables', 'load_tables', 'meld_tables', 'MELD_TABLE_SPLITS',
    'DISCOVER_CLASSES'
]

"""Reading conversation tables: MELD CSV files and generic CSV / TSV / JSONL tables
(registered as the input formats ``'csv'`` and ``'jsonl'``, :mod:`vega_mm.utils.input_format`).

A conversation table has one row per utterance.  The columns (matched by name,
case-insensitively, with the aliases in :data:`COLUMN_ALIASES`) are

========== ======== ==============================================================
key        required meaning
========== ======== ==============================================================
dialogue   yes      dialogue id (any string)
utterance  yes      utterance id inside the dialogue (integers sort numerically)
text       for text the transcript
speaker    no       speaker name (default ``'unknown'``, warned once per table without
                    the column; indices: :mod:`.speakers`)
label      no       emotion name; empty = unlabelled (``-1``)
sentiment  no       ``negative``/``neutral``/``positive`` (MELD's ``Sentiment``); empty =
                    unknown (``-1``); kept in the feature file
media      no       path of a wav / video file, relative to ``media_dir`` or the table
start, end no       segment of the media file, seconds or ``HH:MM:SS,mmm``
========== ======== ==============================================================

A table of one conversation (the transcript of one recording) may lack both id
columns when the caller names the conversation (``dialogue_id=``); its rows are then
utterances ``'0'``, ``'1'``, ... in file order.  ``.srt``/``.vtt`` subtitle files are
table formats too (:mod:`.subtitles`).

MELD's ``*_sent_emo.csv`` files are recognised by their header; their media are the
per-utterance clips ``dia{D}_utt{U}.mp4`` in a directory given by the user, and their
``StartTime``/``EndTime`` (times in the episode, not in the clip) are ignored.

Every problem is reported with the file, the line and the column: unknown emotions,
duplicated (dialogue, utterance) ids (integer ids compare by value: ``1`` and ``01`` are
one id), empty texts, undecodable bytes (UTF-16 needs its byte-order mark), fields
too long for a CSV reader, malformed times.  Each row is checked by
:func:`~.utterances.make_utterance`, the validator of inference records too.  Nothing is
silently dropped or re-ordered: utterances keep their ids, and a dialogue's order is
the numeric order of its utterance ids (file order when the ids are not integers).
"""
import codecs
import csv
import difflib
import io
import json
import math
import os
import warnings
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from vega_mm.structures.meta import MELD_CLASSES
from vega_mm.utils.input_format import (TABLE, InputFormat, detect_format, format_names,
                                        format_of_variant, register_format)
from .decoding import TextRepairs, decode_table_bytes
from .errors import ConversationTableError
from .utterances import Dialogue, Utterance, group_dialogues, id_key, make_utterance

__all__ = [
    'COLUMN_ALIASES', 'ConversationTableError', 'TextRepairs',
    'decode_table_bytes', 'read_conversation_table', 'load_dialogues', 'CSV', 'JSONL',
    'TABLE_FORMATS'
]

#: Column key -> accepted header names (compared case-insensitively).
COLUMN_ALIASES: Dict[str, Tuple[str, ...]] = {
    'dialogue': ('dialogue_id', 'dialogue', 'conversation_id', 'conversation', 'conv_id',
                 'dialog_id'),
    'utterance': ('utterance_id', 'utt_id', 'utterance_index', 'turn', 'turn_id'),
    'text': ('text', 'utterance', 'transcript', 'sentence'),
    'speaker': ('speaker', 'speaker_name', 'speaker_id'),
    'label': ('label', 'emotion', 'emotion_label'),
    'media': ('media', 'media_path', 'path', 'file', 'video', 'audio', 'wav'),
    'start': ('start', 'start_time', 'starttime', 'begin'),
    'end': ('end', 'end_time', 'endtime', 'stop'),
    'sentiment': ('sentiment', 'sentiment_label'),
}

_MELD_HEADER = {'sr no.', 'utterance', 'speaker', 'emotion', 'dialogue_id', 'utterance_id'}


def _resolve_columns(header: Sequence[str], path: str, fmt: str,
                     columns: Optional[Mapping[str, str]], one_conversation: bool = False,
                     default_speaker: bool = False) -> Dict[str, str]:
    """Map column keys to the table's header names (``one_conversation``: the id
    columns may be missing; ``default_speaker``: the speaker column may be missing
    without a warning)."""
    lower = {h.strip().lower(): h for h in header}
    resolved: Dict[str, str] = {}
    for key, name in (columns or {}).items():
        if key not in COLUMN_ALIASES:
            raise ConversationTableError(
                f'{path}: unknown column key {key!r}; keys are {sorted(COLUMN_ALIASES)}')
        if name.strip().lower() not in lower:
            raise ConversationTableError(
                f'{path}: column {name!r} (given for {key!r}) is not in the header '
                f'{list(header)}')
        resolved[key] = lower[name.strip().lower()]
    for key, aliases in COLUMN_ALIASES.items():
        if key in resolved:
            continue
        if fmt == 'meld' and key in ('start', 'end', 'media'):
            continue  # MELD's times are episode times, not clip times
        for alias in aliases:
            if alias in lower:
                resolved[key] = lower[alias]
                break
    for key in ('dialogue', 'utterance'):
        if key not in resolved and not (one_conversation and 'dialogue' not in resolved):
            raise ConversationTableError(
                f'{path}: no {key} id column; expected one of {COLUMN_ALIASES[key]} in the '
                f'header {list(header)} (or name it with columns={{{key!r}: ...}}; a table '
                'of one conversation may lack both id columns when dialogue_id= is given)')
    if 'speaker' not in resolved and not default_speaker:
        _warn_no_speaker(path, header, resolved)
    return resolved


def _warn_no_speaker(path: str, header: Sequence[str], resolved: Mapping[str, str]) -> None:
    """One warning per table without a speaker column: every utterance's speaker is
    then ``'unknown'``, which changes the speaker embeddings and so the predictions."""
    used = {c.strip().lower() for c in resolved.values()}
    free = [h for h in header if h.strip().lower() not in used]
    lower = [h.strip().lower() for h in free]
    close = next((m for alias in COLUMN_ALIASES['speaker']
                  for m in difflib.get_close_matches(alias, lower, n=1, cutoff=0.6)), None)
    hint = ''
    if close:
        name = free[lower.index(close)]
        hint = f"; did you mean {name!r}? (columns={{'speaker': {name!r}}})"
    warnings.warn(
        f'{path}: no speaker column (expected one of {COLUMN_ALIASES["speaker"]}; the '
        f'columns are {list(header)}), so every speaker is "unknown"{hint}',
        UserWarning, stacklevel=4)


def _read_rows(path: str, fmt: str, text: str) -> Tuple[List[Tuple[int, Dict[str, object]]],
                                                        List[str]]:
    """(line, row) pairs and the header of a decoded CSV/TSV/JSONL file."""
    rows: List[Tuple[int, Dict[str, object]]] = []
    if fmt == 'jsonl':
        header: List[str] = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ConversationTableError(
                    f'{path}: line {lineno}: not valid JSON ({exc.msg})') from None
            if not isinstance(obj, dict):
                raise ConversationTableError(
                    f'{path}: line {lineno}: expected a JSON object, got '
                    f'{type(obj).__name__}')
            for k in obj:
                if k not in header:
                    header.append(k)
            rows.append((lineno, obj))
        if not rows:  # before the columns are looked for in a header of nothing
            raise ConversationTableError(f'{path}: the file is empty' + (
                ' (only blank lines); expected one JSON object per utterance'
                if text else '; expected one JSON object per utterance'))
        return rows, header
    reader = csv.reader(io.StringIO(text, newline=''), delimiter=_delimiter(path, text))
    line_start = 1
    try:
        try:
            header = next(reader)
        except StopIteration:
            raise ConversationTableError(f'{path}: the file is empty') from None
        line_start = reader.line_num + 1
        for values in reader:
            if not any(v.strip() for v in values):
                line_start = reader.line_num + 1
                continue
            if len(values) != len(header):
                raise ConversationTableError(
                    f'{path}: line {line_start}: {len(values)} fields but the header has '
                    f'{len(header)} ({header}); check quoting')
            rows.append((line_start, dict(zip(header, values))))
            line_start = reader.line_num + 1
    except csv.Error as exc:  # an oversized field (often an unclosed quote), NUL, ...
        raise ConversationTableError(
            f'{path}: line {line_start}: not readable as CSV ({exc}); a field longer than '
            f'{csv.field_size_limit()} characters usually means an unclosed quote') from None
    return rows, header


def _header_names(line: str, delimiter: str) -> set:
    return {h.strip().lower() for h in next(csv.reader([line.strip()], delimiter=delimiter),
                                            [])}


def _has_id_columns(names: set) -> bool:
    return all(names & set(COLUMN_ALIASES[k]) for k in ('dialogue', 'utterance'))


def _sniffed_delimiter(line: str) -> Optional[str]:
    """The delimiter (``','`` or tab) under which ``line`` is a header with the dialogue
    and utterance id columns, or None."""
    for delimiter in (',', '\t'):
        if delimiter in line and _has_id_columns(_header_names(line, delimiter)):
            return delimiter
    return None


def _delimiter(path: str, text: str) -> str:
    """Tab for ``.tsv``, comma for ``.csv``, else what the header says (comma)."""
    if path.lower().endswith('.tsv'):
        return '\t'
    if path.lower().endswith('.csv'):
        return ','
    return _sniffed_delimiter(text.split('\n', 1)[0]) or ','


def _head_line(head: bytes) -> str:
    """The first non-blank line of a file's first bytes, decoded for sniffing."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text = head[:len(head) // 2 * 2].decode('utf-16', errors='ignore')
    elif b'\x00' in head:
        return ''
    else:
        text = head.decode('utf-8', errors='replace').lstrip('\ufeff')
    return next((line for line in text.splitlines() if line.strip()), '')


def _looks_delimited(path: str, head: bytes) -> bool:
    """A CSV/TSV header naming a dialogue and an utterance id column."""
    return _sniffed_delimiter(_head_line(head)) is not None


def _looks_jsonl(path: str, head: bytes) -> bool:
    """A first line that is a JSON object (or starts like one, when it is longer than
    the bytes looked at)."""
    line = _head_line(head).strip()
    if not line.startswith('{'):
        return False
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:  # malformed, or a first line longer than the bytes looked at
        return b'\n' not in head.strip()


def _table_format(path: str, fmt: str) -> str:
    """``fmt`` checked, or the registry's format of the file (``'csv'`` or ``'jsonl'``)."""
    if fmt != 'auto':
        format_of_variant(fmt, TABLE, path)
        return fmt
    return 'jsonl' if detect_format(path, kind=TABLE) is JSONL else 'csv'


def _other_reader(path: str, fmt: str):
    """The reader of a table format other than CSV/JSONL (a subtitle file), or None."""
    found = detect_format(path, kind=TABLE) if fmt == 'auto' else \
        format_of_variant(fmt, TABLE, path)
    return None if found in (CSV, JSONL) else found.read


def _is_meld(text: str) -> bool:
    """MELD's ``*_sent_emo.csv`` header."""
    return _MELD_HEADER <= _header_names(text.split('\n', 1)[0], ',')


def _cell(row: Mapping[str, object], col: Optional[str]) -> Optional[str]:
    if col is None:
        return None
    value = row.get(col)
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


class _IdChecker:
    """Refuses duplicated (dialogue, utterance) ids and dialogue ids written two ways
    (integer ids compare by value: ``1`` and ``01`` are one id)."""

    def __init__(self) -> None:
        self.seen: Dict[Tuple[str, str], Tuple[int, str]] = {}
        self.spelling: Dict[str, Tuple[str, int]] = {}

    def check(self, dia: str, utt: str, line: int, where: str) -> None:
        spelled, first_line = self.spelling.setdefault(id_key(dia), (dia, line))
        if spelled != dia:
            raise ConversationTableError(
                f'{where}: dialogue id {dia!r} and {spelled!r} (line {first_line}) differ '
                'only in formatting; write each dialogue id one way')
        key = (id_key(dia), id_key(utt))
        if key in self.seen:
            first, spelling = self.seen[key]
            raise ConversationTableError(
                f'{where}: duplicated (dialogue, utterance) id ({dia!r}, {utt!r}), first '
                f'seen on line {first} as {spelling!r}; every utterance must have its own id')
        self.seen[key] = (line, utt)


def _row_utterance(row: Mapping[str, object], cols: Mapping[str, str], where: str,
                   media_template: Optional[str], base: str,
                   repairs: Optional[TextRepairs],
                   defaults: Mapping[str, object]) -> Utterance:
    """One row, validated by :func:`~.utterances.make_utterance` (media resolved;
    ``defaults``: the dialogue id, utterance id, media and speaker of a row without
    them)."""
    dia = _cell(row, cols.get('dialogue')) or ''
    utt = _cell(row, cols.get('utterance')) or ''
    if 'dialogue' not in cols:  # a table of one conversation
        dia = str(defaults['dialogue'])
        utt = utt if 'utterance' in cols else str(defaults['utterance'])
    media = (_cell(row, cols.get('media')) or '').strip() or None
    if media is None and media_template is not None and dia.strip() and utt.strip():
        media = media_template.format(dialogue=dia.strip(), utterance=utt.strip())
    if media is not None and not os.path.isabs(media):
        media = os.path.join(base, media)
    if media is None:
        media = defaults.get('media')  # the caller's path, as given
    speaker = _cell(row, cols.get('speaker'))
    if not (speaker or '').strip():
        speaker = defaults.get('speaker')
    utterance = make_utterance(
        dia, utt, where=where, text=_cell(row, cols.get('text')),
        speaker=speaker, label=_cell(row, cols.get('label')),
        media=media, start=row.get(cols['start']) if 'start' in cols else None,
        end=row.get(cols['end']) if 'end' in cols else None,
        names={k: f'column {c!r}' for k, c in cols.items()}, repairs=repairs)
    utterance.sentiment = (_cell(row, cols.get('sentiment')) or '').strip() or None
    return utterance


def read_conversation_table(path: str,
                            fmt: str = 'auto',
                            tag: Optional[str] = None,
                            columns: Optional[Mapping[str, str]] = None,
                            media_dir: Optional[str] = None,
                            media_template: Optional[str] = None,
                            fix_mojibake: bool = True,
                            media: Optional[str] = None,
                            dialogue_id: Optional[str] = None,
                            default_speaker: Optional[str] = None,
                            ) -> Tuple[List[Utterance], TextRepairs, str]:
    """Read one conversation table into validated utterances.

    A subtitle file (``.srt``/``.vtt``, one conversation) is read by its registered
    reader, :func:`~.subtitles.read_subtitles`, with the same arguments.

    Args:
        path: a ``.csv``/``.tsv`` or ``.jsonl``/``.ndjson`` file, or another name whose
            content is recognised (:func:`~vega_mm.utils.input_format.detect_format`; MELD's CSVs
            are told by their header).
        fmt: ``'auto'``, ``'meld'``, ``'csv'`` or ``'jsonl'``.
        tag: prefix of the dialogue ids (``'train'`` -> ``'train/12'``), so that tables
            whose ids restart at 0 (MELD train and dev) can share one feature file.
            ``None`` keeps the ids as they are.
        columns: explicit column names, e.g. ``{'text': 'Transcript'}``.
        media_dir: directory the media paths are relative to (default: the table's
            directory). For MELD, the directory of the ``dia{D}_utt{U}.mp4`` clips.
        media_template: a media path pattern with ``{dialogue}`` and ``{utterance}``,
            used when the table has no media column (MELD's default:
            ``'dia{dialogue}_utt{utterance}.mp4'`` once ``media_dir`` is given).
        fix_mojibake: repair UTF-8 text that was once decoded as Windows-1252.
        media: the media file of every row without one (a recording the whole
            conversation comes from), as given (not relative to ``media_dir``).
        dialogue_id: the dialogue id of a table of one conversation, which then has no
            dialogue column; without an utterance column either, its rows are numbered
            ``'0'``, ``'1'``, ... in file order.  Ignored when the table has a dialogue
            column.
        default_speaker: the speaker of rows without one (None: ``'unknown'``, with a
            warning when the table has no speaker column).

    Returns:
        ``(utterances in file order, repairs, detected format)``.

    Raises:
        ConversationTableError: undecodable bytes, a row the CSV reader cannot read, a
            missing id column, an empty id, a duplicated (dialogue, utterance) pair or
            dialogue ids that differ only in formatting, an empty text, a malformed time
            or an end before a start.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'conversation table {path!r} does not exist')
    reader = _other_reader(path, fmt)
    if reader is not None:
        return reader(path, fmt=fmt, tag=tag, columns=columns, media_dir=media_dir,
                      media_template=media_template, fix_mojibake=fix_mojibake,
                      media=media, dialogue_id=dialogue_id,
                      default_speaker=default_speaker)
    auto = fmt == 'auto'
    fmt = _table_format(path, fmt)
    with open(path, 'rb') as f:
        text, repairs = decode_table_bytes(f.read(), path)
    if auto and fmt == 'csv' and _is_meld(text):
        fmt = 'meld'
    rows, header = _read_rows(path, fmt, text)
    cols = _resolve_columns(header, path, fmt, columns, dialogue_id is not None,
                            default_speaker is not None)
    if fmt == 'meld' and media_dir is not None and media_template is None:
        media_template = 'dia{dialogue}_utt{utterance}.mp4'
    base = media_dir if media_dir is not None else os.path.dirname(os.path.abspath(path))
    defaults = dict(dialogue=dialogue_id, media=media, speaker=default_speaker)
    return (_utterances(path, rows, cols, media_template, base,
                        repairs if fix_mojibake else None, defaults, tag), repairs, fmt)


def _utterances(path: str, rows: Sequence[Tuple[int, Mapping[str, object]]],
                cols: Mapping[str, str], media_template: Optional[str], base: str,
                repairs: Optional[TextRepairs], defaults: Mapping[str, object],
                tag: Optional[str]) -> List[Utterance]:
    """The table's rows as checked utterances, in file order (ids unique, tagged)."""
    ids = _IdChecker()
    utterances: List[Utterance] = []
    for position, (line, row) in enumerate(rows):
        where = f'{path}:{line}'
        utt = _row_utterance(row, cols, where, media_template, base, repairs,
                             dict(defaults, utterance=position))
        ids.check(utt.dialogue_id, utt.utterance_id, line, where)
        if tag:
            utt.dialogue_id = f'{tag}/{utt.dialogue_id}'
        utterances.append(utt)
    if not utterances:
        raise ConversationTableError(f'{path}: the table has no rows')
    return utterances


def load_dialogues(path: str, split: str = 'test',
                   log: Optional[Callable[[str], None]] = None,
                   **options) -> List[Dialogue]:
    """The dialogues of one table (:func:`read_conversation_table` with ``options``,
    then :func:`~.utterances.group_dialogues`); ``log`` is told of repaired text
    (``'PATH: repaired text: ...'``, as feature extraction reports it)."""
    utterances, repairs, _ = read_conversation_table(path, **options)
    if log is not None and len(repairs):
        log(f'{path}: repaired text: {repairs.summary()}')
    return group_dialogues(utterances, split)


#: Comma- or tab-separated tables (MELD's ``*_sent_emo.csv`` recognised by the header).
CSV = register_format(InputFormat(
    'csv', TABLE, ('.csv', '.tsv'), _looks_delimited, read_conversation_table,
    variants=('meld', 'csv'), description='a comma- or tab-separated conversation table'))
#: JSON-lines tables: one JSON object per utterance.
JSONL = register_format(InputFormat(
    'jsonl', TABLE, ('.jsonl', '.ndjson'), _looks_jsonl, read_conversation_table,
    description='a JSON-lines conversation table'))

#: The values of ``fmt`` for CSV/JSONL tables: ``('auto', 'meld', 'csv', 'jsonl')`` (the
#: subtitle formats of :mod:`.subtitles` add ``'srt'`` and ``'vtt'``:
#: ``format_names(TABLE)``).
TABLE_FORMATS = format_names(TABLE)

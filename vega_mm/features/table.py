"""Reading conversation tables: MELD CSV files and generic CSV / JSONL tables.

A conversation table has one row per utterance.  The columns (matched by name,
case-insensitively, with the aliases in :data:`COLUMN_ALIASES`) are

========== ======== ==============================================================
key        required meaning
========== ======== ==============================================================
dialogue   yes      dialogue id (any string)
utterance  yes      utterance id inside the dialogue (integers sort numerically)
text       for text the transcript
speaker    no       speaker name (default ``'unknown'``; indices: :mod:`.speakers`)
label      no       emotion name; empty = unlabelled (``-1``)
media      no       path of a wav / video file, relative to ``media_dir`` or the table
start, end no       segment of the media file, seconds or ``HH:MM:SS,mmm``
========== ======== ==============================================================

MELD's ``*_sent_emo.csv`` files are recognised by their header; their media are the
per-utterance clips ``dia{D}_utt{U}.mp4`` in a directory given by the user, and their
``StartTime``/``EndTime`` (times in the episode, not in the clip) are ignored.

Every problem is reported with the file, the line and the column: unknown emotions,
duplicated (dialogue, utterance) ids (integer ids compare by value: ``1`` and ``01`` are
one id), empty texts, undecodable bytes (UTF-16 needs its byte-order mark), fields
too long for a CSV reader, malformed times.  Nothing is
silently dropped or re-ordered: utterances keep their ids, and a dialogue's order is
the numeric order of its utterance ids (file order when the ids are not integers).
"""
import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from .decoding import TextRepairs, decode_table_bytes, fix_mojibake as repair_mojibake
from .speakers import OTHER_SPEAKER, build_speaker_map, speaker_key
from .table_errors import ConversationTableError

__all__ = [
    'COLUMN_ALIASES', 'ConversationTableError', 'Utterance', 'Dialogue',
    'TextRepairs', 'decode_table_bytes', 'read_conversation_table', 'group_dialogues',
    'build_speaker_map', 'speaker_key', 'OTHER_SPEAKER', 'parse_time', 'id_key'
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
}

_MELD_HEADER = {'sr no.', 'utterance', 'speaker', 'emotion', 'dialogue_id', 'utterance_id'}


@dataclass
class Utterance:
    """One row of a conversation table, after validation.

    ``source`` is ``'file:line'`` (1-based line of the row's start in the file), used in
    every later error message about this utterance.
    """
    dialogue_id: str
    utterance_id: str
    text: Optional[str]
    speaker: str
    label: Optional[str]
    media: Optional[str] = None
    start: Optional[float] = None
    end: Optional[float] = None
    source: str = ''


@dataclass
class Dialogue:
    """A dialogue's utterances in order, and the split it belongs to."""
    dialogue_id: str
    utterances: List[Utterance]
    split: str = 'train'

    def __len__(self) -> int:
        return len(self.utterances)


# --------------------------------------------------------------------------- parsing
_TIME = re.compile(r'^(?:(\d+):)?(\d+):(\d+(?:[.,]\d+)?)$')


def parse_time(value: object, where: str = '') -> Optional[float]:
    """Seconds from ``12.5``, ``'12.5'``, ``'00:00:12,500'`` or ``'00:12.5'``.

    Empty values give ``None``.

    Raises:
        ConversationTableError: anything else, or a negative time.
    """
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        text = str(value).strip()
        if not text:
            return None
        try:
            seconds = float(text)
        except ValueError:
            match = _TIME.match(text)
            if match is None:
                raise ConversationTableError(
                    f'{where}: time {text!r} is not seconds or HH:MM:SS,mmm') from None
            hours, minutes, secs = match.groups()
            seconds = (int(hours or 0) * 3600 + int(minutes) * 60
                       + float(secs.replace(',', '.')))
    if not math.isfinite(seconds) or seconds < 0:
        raise ConversationTableError(f'{where}: time {value!r} must be a finite number >= 0')
    return seconds


def _resolve_columns(header: Sequence[str], path: str, fmt: str,
                     columns: Optional[Mapping[str, str]]) -> Dict[str, str]:
    """Map column keys to the table's header names."""
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
        if key not in resolved:
            raise ConversationTableError(
                f'{path}: no {key} id column; expected one of {COLUMN_ALIASES[key]} in the '
                f'header {list(header)} (or name it with columns={{{key!r}: ...}})')
    return resolved


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
        return rows, header
    delimiter = '\t' if path.lower().endswith('.tsv') else ','
    reader = csv.reader(io.StringIO(text, newline=''), delimiter=delimiter)
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


def _detect_format(path: str, fmt: str, text: str) -> str:
    if fmt != 'auto':
        if fmt not in ('meld', 'csv', 'jsonl'):
            raise ValueError(f"table format must be 'auto', 'meld', 'csv' or 'jsonl', got "
                             f'{fmt!r}')
        return fmt
    if path.lower().endswith(('.jsonl', '.json', '.ndjson')):
        return 'jsonl'
    header = text.split('\n', 1)[0]
    names = {h.strip().lower() for h in next(csv.reader([header.strip()]), [])}
    return 'meld' if _MELD_HEADER <= names else 'csv'


def _cell(row: Mapping[str, object], col: Optional[str]) -> Optional[str]:
    if col is None:
        return None
    value = row.get(col)
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return str(value)


def read_conversation_table(path: str,
                            fmt: str = 'auto',
                            tag: Optional[str] = None,
                            columns: Optional[Mapping[str, str]] = None,
                            media_dir: Optional[str] = None,
                            media_template: Optional[str] = None,
                            fix_mojibake: bool = True,
                            ) -> Tuple[List[Utterance], TextRepairs, str]:
    """Read one conversation table into validated utterances.

    Args:
        path: a ``.csv``/``.tsv`` or ``.jsonl`` file (MELD's CSVs are detected).
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
    with open(path, 'rb') as f:
        text, repairs = decode_table_bytes(f.read(), path)
    fmt = _detect_format(path, fmt, text)
    rows, header = _read_rows(path, fmt, text)
    cols = _resolve_columns(header, path, fmt, columns)
    if fmt == 'meld' and media_dir is not None and media_template is None:
        media_template = 'dia{dialogue}_utt{utterance}.mp4'
    base = media_dir if media_dir is not None else os.path.dirname(os.path.abspath(path))
    seen: Dict[Tuple[str, str], Tuple[int, str]] = {}
    dialogue_spelling: Dict[str, Tuple[str, int]] = {}
    utterances: List[Utterance] = []
    for line, row in rows:
        where = f'{path}:{line}'
        dia = (_cell(row, cols['dialogue']) or '').strip()
        utt = (_cell(row, cols['utterance']) or '').strip()
        if not dia or not utt:
            col = cols['dialogue'] if not dia else cols['utterance']
            raise ConversationTableError(f'{where}: column {col!r} is empty')
        spelled, first_line = dialogue_spelling.setdefault(id_key(dia), (dia, line))
        if spelled != dia:
            raise ConversationTableError(
                f'{where}: dialogue id {dia!r} and {spelled!r} (line {first_line}) differ '
                'only in formatting; write each dialogue id one way')
        key = (id_key(dia), id_key(utt))
        if key in seen:
            first, spelling = seen[key]
            raise ConversationTableError(
                f'{where}: duplicated (dialogue, utterance) id ({dia!r}, {utt!r}), first '
                f'seen on line {first} as {spelling!r}; every utterance must have its own id')
        seen[key] = (line, utt)
        text = _cell(row, cols.get('text'))
        if text is not None:
            text = text.strip()
            if not text:
                raise ConversationTableError(
                    f'{where}: column {cols["text"]!r} is empty (dialogue {dia!r}, '
                    f'utterance {utt!r}); every utterance needs its transcript (an empty '
                    'text would get the same features as every other empty one)')
            if fix_mojibake:
                text = repair_mojibake(text, where, repairs)
        speaker = (_cell(row, cols.get('speaker')) or '').strip() or 'unknown'
        label = (_cell(row, cols.get('label')) or '').strip() or None
        media = (_cell(row, cols.get('media')) or '').strip() or None
        if media is None and media_template is not None:
            media = media_template.format(dialogue=dia, utterance=utt)
        if media is not None and not os.path.isabs(media):
            media = os.path.join(base, media)
        start = parse_time(row.get(cols['start']), f"{where}: column {cols['start']!r}") \
            if 'start' in cols else None
        end = parse_time(row.get(cols['end']), f"{where}: column {cols['end']!r}") \
            if 'end' in cols else None
        if start is not None and end is not None and end <= start:
            raise ConversationTableError(
                f'{where}: segment end {end:.3f}s is not after its start {start:.3f}s')
        utterances.append(Utterance(
            dialogue_id=f'{tag}/{dia}' if tag else dia, utterance_id=utt, text=text,
            speaker=speaker, label=label, media=media, start=start, end=end, source=where))
    if not utterances:
        raise ConversationTableError(f'{path}: the table has no rows')
    return utterances, repairs, fmt


def _is_int(value: str) -> bool:
    return re.fullmatch(r'[+-]?\d+', value) is not None


def id_key(value: str) -> str:
    """What makes two spellings of an id the same: integers compare by value
    (``'1'``, ``'01'`` and ``'+1'`` are one id), other ids as written (trimmed)."""
    value = value.strip()
    return str(int(value)) if _is_int(value) else value


def group_dialogues(utterances: Iterable[Utterance], split: str = 'train') -> List[Dialogue]:
    """Group utterances into dialogues (first-appearance order of the dialogues).

    Inside a dialogue, utterances are ordered by their ids when all of them are
    integers (MELD's ids have gaps; they are kept, never renumbered), otherwise they
    keep the file order.
    """
    groups: Dict[str, List[Utterance]] = {}
    for utt in utterances:
        groups.setdefault(utt.dialogue_id, []).append(utt)
    dialogues = []
    for dia, utts in groups.items():
        if all(_is_int(u.utterance_id) for u in utts):
            utts = sorted(utts, key=lambda u: int(u.utterance_id))
        dialogues.append(Dialogue(dia, utts, split))
    return dialogues

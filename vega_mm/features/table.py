"""Reading conversation tables: MELD CSV files and generic CSV / JSONL tables.

A conversation table has one row per utterance.  The columns (matched by name,
case-insensitively, with the aliases in :data:`COLUMN_ALIASES`) are

========== ======== ==============================================================
key        required meaning
========== ======== ==============================================================
dialogue   yes      dialogue id (any string)
utterance  yes      utterance id inside the dialogue (integers sort numerically)
text       for text the transcript
speaker    no       speaker name (default ``'unknown'``)
label      no       emotion name; empty = unlabelled (``-1``)
media      no       path of a wav / video file, relative to ``media_dir`` or the table
start, end no       segment of the media file, seconds or ``HH:MM:SS,mmm``
========== ======== ==============================================================

MELD's ``*_sent_emo.csv`` files are recognised by their header; their media are the
per-utterance clips ``dia{D}_utt{U}.mp4`` in a directory given by the user, and their
``StartTime``/``EndTime`` (times in the episode, not in the clip) are ignored.

Every problem is reported with the file, the line and the column: unknown emotions,
duplicated (dialogue, utterance) ids, undecodable bytes, malformed times.  Nothing is
silently dropped or re-ordered: utterances keep their ids, and a dialogue's order is
the numeric order of its utterance ids (file order when the ids are not integers).
"""
import codecs
import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from vega_mm.datasets.meta import MELD_CLASSES

__all__ = [
    'MELD_CLASSES', 'COLUMN_ALIASES', 'ConversationTableError', 'Utterance', 'Dialogue',
    'TextRepairs', 'decode_table_bytes', 'read_conversation_table', 'group_dialogues',
    'build_speaker_map', 'parse_time'
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


class ConversationTableError(ValueError):
    """A conversation table cannot be read as it is; the message names file and row."""


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


@dataclass
class TextRepairs:
    """What was repaired while decoding a table (reported, never silent)."""
    cp1252_bytes: List[Tuple[int, str]] = field(default_factory=list)  # (line, char)
    mojibake: List[Tuple[str, str]] = field(default_factory=list)  # (source, fragment)

    def __len__(self) -> int:
        return len(self.cp1252_bytes) + len(self.mojibake)

    def summary(self) -> str:
        parts = []
        if self.cp1252_bytes:
            lines = sorted({line for line, _ in self.cp1252_bytes})
            parts.append(f'{len(self.cp1252_bytes)} Windows-1252 byte(s) decoded on '
                         f'line(s) {lines[:10]}{" ..." if len(lines) > 10 else ""}')
        if self.mojibake:
            parts.append(f'{len(self.mojibake)} mojibake sequence(s) repaired (first at '
                         f'{self.mojibake[0][0]}: {self.mojibake[0][1]!r})')
        return '; '.join(parts) if parts else 'none'


# --------------------------------------------------------------------------- decoding
def decode_table_bytes(data: bytes, path: str = '<bytes>') -> Tuple[str, TextRepairs]:
    """Decode a table that is UTF-8 with stray Windows-1252 bytes.

    Valid UTF-8 is decoded as such (a BOM is dropped).  A byte that is not part of a
    valid UTF-8 sequence is decoded as Windows-1252 (MELD's files hold a few, e.g. 0x92
    for a right quote) and reported in the returned :class:`TextRepairs`.

    Raises:
        ConversationTableError: a byte that is neither (0x81, 0x8d, 0x8f, 0x90, 0x9d),
            naming the file, line and byte offset.
    """
    repairs = TextRepairs()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return data.decode('utf-8'), repairs
    except UnicodeDecodeError:
        pass
    out: List[str] = []
    pos = 0
    while pos < len(data):
        try:
            out.append(data[pos:].decode('utf-8'))
            break
        except UnicodeDecodeError as exc:
            out.append(data[pos:pos + exc.start].decode('utf-8'))
            bad_at = pos + exc.start
            byte = data[bad_at:bad_at + 1]
            line = data.count(b'\n', 0, bad_at) + 1
            try:
                char = byte.decode('cp1252')
            except UnicodeDecodeError:
                raise ConversationTableError(
                    f'{path}: line {line}: byte 0x{byte[0]:02x} at offset {bad_at} is '
                    'neither UTF-8 nor Windows-1252; fix the file\'s encoding '
                    '(e.g. re-save it as UTF-8)') from None
            out.append(char)
            repairs.cp1252_bytes.append((line, char))
            pos = bad_at + 1
    return ''.join(out), repairs


# Runs of characters that UTF-8 bytes become when decoded as Windows-1252 ("â€™").
_MOJIBAKE = re.compile('[\u00c2-\u00f4][\u0080-\u00bf\u0152\u0153\u0160\u0161\u0178'
                       '\u017d\u017e\u0192\u02c6\u02dc\u2013-\u203a\u20ac\u2122]+')


def _fix_mojibake(text: str, source: str, repairs: TextRepairs) -> str:
    """Undo UTF-8-read-as-Windows-1252 sequences (``â€™`` -> ``’``), reporting each."""

    def repl(match: 're.Match') -> str:
        frag = match.group(0)
        try:
            fixed = frag.encode('cp1252').decode('utf-8')
        except (UnicodeEncodeError, UnicodeDecodeError):
            return frag
        repairs.mojibake.append((source, frag))
        return fixed

    return _MOJIBAKE.sub(repl, text)


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


def _read_rows(path: str, fmt: str) -> Tuple[List[Tuple[int, Dict[str, object]]], List[str],
                                              TextRepairs]:
    """(line, row) pairs, the header and the decoding repairs of a CSV/TSV/JSONL file."""
    with open(path, 'rb') as f:
        data = f.read()
    text, repairs = decode_table_bytes(data, path)
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
        return rows, header, repairs
    delimiter = '\t' if path.lower().endswith('.tsv') else ','
    reader = csv.reader(io.StringIO(text, newline=''), delimiter=delimiter)
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
    return rows, header, repairs


def _detect_format(path: str, fmt: str) -> str:
    if fmt != 'auto':
        if fmt not in ('meld', 'csv', 'jsonl'):
            raise ValueError(f"table format must be 'auto', 'meld', 'csv' or 'jsonl', got "
                             f'{fmt!r}')
        return fmt
    if path.lower().endswith(('.jsonl', '.json', '.ndjson')):
        return 'jsonl'
    with open(path, 'rb') as f:
        first = f.readline()
    header, _ = decode_table_bytes(first, path)
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
        ConversationTableError: a missing id column, an empty id, a duplicated
            (dialogue, utterance) pair, a malformed time or an end before a start.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'conversation table {path!r} does not exist')
    fmt = _detect_format(path, fmt)
    rows, header, repairs = _read_rows(path, fmt)
    cols = _resolve_columns(header, path, fmt, columns)
    if fmt == 'meld' and media_dir is not None and media_template is None:
        media_template = 'dia{dialogue}_utt{utterance}.mp4'
    base = media_dir if media_dir is not None else os.path.dirname(os.path.abspath(path))
    seen: Dict[Tuple[str, str], int] = {}
    utterances: List[Utterance] = []
    for line, row in rows:
        where = f'{path}:{line}'
        dia = (_cell(row, cols['dialogue']) or '').strip()
        utt = (_cell(row, cols['utterance']) or '').strip()
        if not dia or not utt:
            col = cols['dialogue'] if not dia else cols['utterance']
            raise ConversationTableError(f'{where}: column {col!r} is empty')
        key = (dia, utt)
        if key in seen:
            raise ConversationTableError(
                f'{where}: duplicated (dialogue, utterance) id ({dia!r}, {utt!r}), first '
                f'seen on line {seen[key]}; every utterance must have its own id')
        seen[key] = line
        text = _cell(row, cols.get('text'))
        if text is not None:
            text = text.strip()
            if fix_mojibake:
                text = _fix_mojibake(text, where, repairs)
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


def build_speaker_map(train_speakers: Iterable[str], all_speakers: Iterable[str],
                      max_speakers: Optional[int] = 9) -> Tuple[Dict[str, int], List[str]]:
    """Speaker name -> index, by frequency in the training split.

    If every speaker (of all splits) fits in ``max_speakers``, each gets its own index,
    most frequent training speaker first.  Otherwise the ``max_speakers - 1`` most
    frequent training speakers get ``0 .. max_speakers - 2`` and everyone else shares
    the last index, named ``'other'`` (MELD: 8 main speakers + other = 9).

    Returns:
        ``(mapping, speaker_names)``; names not in ``mapping`` map to ``'other'``.
    """
    counts: Dict[str, int] = {}
    for name in train_speakers:
        counts[name] = counts.get(name, 0) + 1
    everyone = set(counts) | set(all_speakers)
    ranked = sorted(counts, key=lambda n: (-counts[n], n))
    ranked += sorted(everyone - set(counts))  # seen only outside train: last
    if max_speakers is None or len(ranked) <= max_speakers:
        return {n: i for i, n in enumerate(ranked)}, ranked
    if max_speakers < 2:
        raise ValueError(f'max_speakers must be >= 2, got {max_speakers}')
    kept = ranked[:max_speakers - 1]
    mapping = {n: i for i, n in enumerate(kept)}
    for n in ranked[max_speakers - 1:]:
        mapping[n] = max_speakers - 1
    return mapping, kept + ['other']

"""Transcripts of one recording as subtitles: SubRip (``.srt``) and WebVTT (``.vtt``).

Registered as the table formats ``'srt'`` and ``'vtt'`` (:mod:`vega_mm.utils.input_format`), so
:func:`~.tables.load_dialogues` and :func:`~.tables.read_conversation_table` read them:
a subtitle file is ONE conversation (dialogue id: the file's stem), one utterance per
cue, in file order, with the cue's ``start``/``end`` in seconds and utterance ids
``'1'``, ``'2'``, ... (the cue's position in the file).  :func:`load_transcript` reads
the transcript of one recording in any of these formats or as a CSV/JSONL table.

Speakers, in this order:

1. a WebVTT voice tag ``<v Ross>We were on a break!</v>`` (also ``<v.loud Ross>``);
2. a label before a colon at the start of the cue's first line (after a ``- ``
   dialogue dash): ``[anything]: text`` (``[SPEAKER_00]: ...``, as diarization tools
   write it), or a name of one to three words, the first starting with a capital
   letter and each starting with a capital letter or a digit, at most 40 characters:
   ``ROSS: ...``, ``Ross Geller: ...``, ``Speaker 2: ...``, ``Émile: ...``.  Words that introduce
   prose rather than a speaker (:data:`NOT_SPEAKERS`: ``Note:``, ``Warning:``, ...) are
   kept as text; ``speaker_prefix=False`` turns the colon rule off;
3. otherwise ``default_speaker`` (None: ``'unknown'``, as for tables).  A recording
   without speaker labels is one speaker for the model; the caller names it.

Cue text: lines joined with a space, markup removed (``<i>``, ``<b>``, ``<font ...>``,
WebVTT ``<c.x>``/timestamp tags, ``{\\an8}``-style override codes), HTML entities
decoded (``&amp;`` -> ``&``); the ``[label 0.82]`` line that vega_mm's own subtitle
output (:mod:`vega_mm.apis.outputs`) adds after the text is dropped, so such a file
reads back as the transcript it came from.

Every problem is a :class:`~.errors.ConversationTableError` naming the file, the
cue and the line: a malformed timing line, a cue that ends before it starts, a cue
without text, an empty file, bytes that are not UTF-8 (a byte-order mark is accepted).
"""
import codecs
import html
import math
import os
import re
from typing import Any, List, Optional, Sequence, Tuple

from vega_mm.utils.input_format import TABLE, InputFormat, detect_format, register_format
from .decoding import TextRepairs, unicode_prefix
from .errors import ConversationTableError
from .tables import read_conversation_table
from .utterances import Dialogue, Utterance, group_dialogues, make_utterance

__all__ = ['SRT', 'VTT', 'NOT_SPEAKERS', 'read_subtitles', 'load_transcript',
           'check_cue_times', 'overlapping_cues', 'format_timestamp', 'is_plain_speaker',
           'clean_cue_text']

#: Words before a colon that start prose, not a speaker's line (compared lower-case).
NOT_SPEAKERS = frozenset({
    'note', 'notes', 'nb', 'ps', 'warning', 'caution', 'important', 'tip', 'hint',
    'update', 'edit', 'example', 'translation', 'subtitles', 'captions', 'source',
    'fyi', 're', 'chapter', 'part', 'step'})

_ARROW = '-->'
_TIMESTAMP = re.compile(r'^(?:(\d+):)?(\d+):(\d+)(?:[.,](\d+))?$')
_TIMING = re.compile(r'^\s*(\S+)\s*-->\s*(\S+)(?:\s.*)?$')
_VOICE = re.compile(r'<v(?:\.[^\s>]*)?\s+([^>]+?)\s*>')
_TAG = re.compile(r'</?[A-Za-z][^<>]*>|<\d[\d:.]*>')  # <i>, </font>, <c.x>, <00:01.000>
_OVERRIDE = re.compile(r'\{\\[^{}]*\}')  # {\an8}, {\i1}
_BRACKETED = re.compile(r'^\[([^\[\]\n]{1,60})\]:\s*(.*)$')
_NAMED = re.compile(r"^([^\W\d_][\w.'-]*(?: [\w.'-]+){0,2}):(?:\s+(.*))?$")
_PREDICTION_LINE = re.compile(r'^\[[^\[\]]+ [01](?:\.\d+)?\]$')
_MAX_NAME = 40


def format_timestamp(seconds: float, sep: str = '.') -> str:
    """``62.345`` -> ``'00:01:02.345'`` (``sep=','``: SubRip's ``00:01:02,345``); hours
    beyond 99 take more digits."""
    ms = int(round(float(seconds) * 1000))
    hours, ms = divmod(ms, 3_600_000)
    minutes, ms = divmod(ms, 60_000)
    secs, ms = divmod(ms, 1000)
    return f'{hours:02d}:{minutes:02d}:{secs:02d}{sep}{ms:03d}'


def _decode(data: bytes, path: str) -> str:
    """UTF-8 (with or without a byte-order mark), or UTF-16 with its byte-order mark
    (tables also take stray Windows-1252 bytes; subtitles do not)."""
    text, data = unicode_prefix(data, path)
    if text is not None:
        return text
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError as exc:
        line = data.count(b'\n', 0, exc.start) + 1
        raise ConversationTableError(
            f'{path}: line {line}: byte 0x{data[exc.start]:02x} at offset {exc.start} is not '
            'UTF-8; a subtitle file must be UTF-8 text (re-save it as UTF-8, e.g. '
            '`iconv -f cp1252 -t utf-8`)') from None


def _parse_timestamp(text: str, where: str) -> float:
    match = _TIMESTAMP.match(text)
    ok = match is not None
    if ok:
        hours, minutes, secs, frac = match.groups()
        ok = int(secs) < 60 and (hours is None or int(minutes) < 60)
    if not ok:
        raise ConversationTableError(
            f'{where}: timestamp {text!r} is not HH:MM:SS,mmm (SubRip) or HH:MM:SS.mmm / '
            'MM:SS.mmm (WebVTT), with minutes and seconds below 60')
    whole = int(hours or 0) * 3600 + int(minutes) * 60 + int(secs)
    scale = 10 ** len(frac or '')
    return (whole * scale + int(frac or 0)) / scale  # 1.235, not 1 + 0.235


def _parse_timing(line: str, where: str) -> Tuple[float, float]:
    match = _TIMING.match(line)
    if match is None:
        raise ConversationTableError(
            f'{where}: timing line {line.strip()!r} is not "START --> END" '
            '(e.g. "00:00:01,000 --> 00:00:02,500")')
    start = _parse_timestamp(match.group(1), where)
    end = _parse_timestamp(match.group(2), where)
    if end <= start:
        raise ConversationTableError(
            f'{where}: the cue ends at {format_timestamp(end)}, not after its start at '
            f'{format_timestamp(start)}')
    return start, end


def clean_cue_text(text: str) -> str:
    """A cue's text as read: markup removed, entities decoded, whitespace collapsed."""
    text = _OVERRIDE.sub('', _TAG.sub('', text))
    return ' '.join(html.unescape(text).split())


def _split_speaker(lines: List[str], prefix: bool) -> Tuple[Optional[str], List[str]]:
    """(speaker or None, the text lines without the speaker's label)."""
    voice = next((m for m in map(_VOICE.search, lines) if m), None)
    if voice is not None:
        name = ' '.join(html.unescape(voice.group(1)).split())
        return name or None, [_VOICE.sub('', line) for line in lines]
    if not prefix:
        return None, lines
    first = clean_cue_text(lines[0])
    if first.startswith('- '):
        first = first[2:]
    for pattern in (_BRACKETED, _NAMED):
        match = pattern.match(first)
        if match is None:
            continue
        name = match.group(1).strip()
        if pattern is _NAMED and not _is_name(name):
            return None, lines
        return name, [match.group(2) or ''] + lines[1:]
    return None, lines


def _is_name(name: str) -> bool:
    """One to three words (the regex's), the first capitalised, each capitalised or a
    number, not too long, not a word that starts prose."""
    words = name.split(' ')
    return words[0][0].isupper() and all(w[0].isupper() or w[0].isdigit() for w in words) \
        and len(name) <= _MAX_NAME and name.lower() not in NOT_SPEAKERS


def is_plain_speaker(name: str) -> bool:
    """Is ``name`` read back as the speaker of ``'name: text'`` (the colon rule of the
    module docstring)?  Other names are written ``[name]: text``."""
    match = _NAMED.match(f'{name}: x')
    return match is not None and match.group(1) == name and _is_name(name)


class _Cue:
    """One cue as read: its position, the line of its timing, times and text lines."""

    def __init__(self, number: int, line: int, start: float, end: float,
                 lines: List[str]) -> None:
        self.number, self.line, self.start, self.end, self.lines = \
            number, line, start, end, lines


def _is_srt_number(lines: Sequence[str], i: int) -> bool:
    return lines[i].strip().isdigit() and i + 1 < len(lines) and _ARROW in lines[i + 1]


def _text_lines(lines: Sequence[str], i: int, srt: bool) -> Tuple[List[str], int]:
    """The cue's text lines from ``i`` (up to a blank line, or the next cue of a SubRip
    file that lacks the blank line), and where reading goes on."""
    out = []
    while i < len(lines) and lines[i].strip() and _ARROW not in lines[i] \
            and not (srt and _is_srt_number(lines, i)):
        out.append(lines[i])
        i += 1
    return out, i


def _skip_block(lines: Sequence[str], i: int) -> int:
    while i < len(lines) and lines[i].strip():
        i += 1
    return i


def _vtt_start(lines: Sequence[str], path: str) -> int:
    """After the WebVTT header block (``WEBVTT`` and its header lines)."""
    if not lines or not re.match(r'^WEBVTT(?:[ \t].*)?$', lines[0]):
        raise ConversationTableError(
            f'{path}: line 1: a WebVTT file starts with "WEBVTT", got '
            f'{(lines[0] if lines else "")[:40]!r}')
    return _skip_block(lines, 1)


def _read_cues(text: str, path: str, srt: bool) -> List[_Cue]:
    """Every cue of a decoded SubRip or WebVTT file, in file order."""
    lines = text.splitlines()
    i = 0 if srt else _vtt_start(lines, path)
    cues: List[_Cue] = []
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        head = lines[i].strip()
        if not srt and re.match(r'^(NOTE|STYLE|REGION)(?:\s|$)', head):
            i = _skip_block(lines, i)
            continue
        if _ARROW not in lines[i]:
            if (srt and not _is_srt_number(lines, i)) or \
                    (not srt and not (i + 1 < len(lines) and _ARROW in lines[i + 1])):
                what = 'a cue number' if srt else 'a cue identifier'
                raise ConversationTableError(
                    f'{path}: line {i + 1}: expected {what} or a timing line '
                    f'"START --> END" (cue {len(cues) + 1}), got {head[:60]!r}')
            i += 1  # the cue number / identifier
        number = len(cues) + 1
        where = f'{path}: cue {number} (line {i + 1})'
        start, end = _parse_timing(lines[i], where)
        body, i = _text_lines(lines, i + 1, srt)
        cues.append(_Cue(number, i - len(body), start, end, body))
    if not cues:
        raise ConversationTableError(f'{path}: empty transcript: no cues '
                                     '("START --> END" timing lines) in the file')
    return cues


def _cue_utterance(cue: _Cue, path: str, dialogue_id: str, media: Optional[str],
                   default_speaker: Any, prefix: bool,
                   repairs: Optional[TextRepairs]) -> Utterance:
    where = f'{path}: cue {cue.number} (line {cue.line})'
    lines = list(cue.lines)
    if len(lines) > 1 and _PREDICTION_LINE.match(clean_cue_text(lines[-1])):
        lines = lines[:-1]  # the label line of vega_mm's own subtitle output
    if not lines or not clean_cue_text(' '.join(lines)):
        raise ConversationTableError(
            f'{where}: the cue has no text (markup removed); every utterance needs its '
            'transcript')
    speaker, lines = _split_speaker(lines, prefix)
    text = clean_cue_text(' '.join(lines))
    if not text:
        raise ConversationTableError(
            f'{where}: the cue has only a speaker label ({speaker!r}) and no text')
    return make_utterance(dialogue_id, str(cue.number), where=where, text=text,
                          speaker=default_speaker if speaker is None else speaker,
                          media=media, start=cue.start, end=cue.end, repairs=repairs)


def _subtitle_kind(path: str, fmt: str) -> str:
    if fmt in ('srt', 'vtt'):
        return fmt
    if fmt != 'auto':
        raise ConversationTableError(f"{path}: fmt {fmt!r} is not a subtitle format "
                                     "('srt', 'vtt' or 'auto')")
    return 'vtt' if detect_format(path, kind=TABLE) is VTT else 'srt'


def read_subtitles(path: str, fmt: str = 'auto', tag: Optional[str] = None,
                   columns: Optional[dict] = None, media_dir: Optional[str] = None,
                   media_template: Optional[str] = None, fix_mojibake: bool = True,
                   media: Optional[str] = None, dialogue_id: Optional[str] = None,
                   default_speaker: Any = None, speaker_prefix: bool = True,
                   ) -> Tuple[List[Utterance], TextRepairs, str]:
    """Read a ``.srt`` or ``.vtt`` file into the utterances of one conversation.

    The arguments of :func:`~.tables.read_conversation_table` are accepted (``columns``
    and ``media_template`` do not apply to subtitles and must be None).

    Args:
        path: the subtitle file.
        fmt: ``'auto'`` (by content, then suffix), ``'srt'`` or ``'vtt'``.
        tag: prefix of the dialogue id (``'test'`` -> ``'test/<id>'``).
        media_dir: the folder ``media`` is relative to (default: as given).
        fix_mojibake: repair UTF-8 text that was once decoded as Windows-1252.
        media: the recording, attached to every utterance.
        dialogue_id: the conversation's id (default: the file's stem).
        default_speaker: the speaker of cues without one (None: ``'unknown'``).
        speaker_prefix: read ``Name: text`` speaker labels (see the module docstring).

    Returns:
        ``(utterances in file order, repairs, 'srt' or 'vtt')``.

    Raises:
        ConversationTableError: see the module docstring.
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f'transcript {path!r} does not exist')
    for name, value in (('columns', columns), ('media_template', media_template)):
        if value is not None:
            raise ConversationTableError(f'{path}: {name}= does not apply to a subtitle '
                                         'file (its cues have no columns)')
    kind = _subtitle_kind(path, fmt)
    with open(path, 'rb') as f:
        text = _decode(f.read(), path)
    cues = _read_cues(text, path, kind == 'srt')
    dia = dialogue_id or os.path.splitext(os.path.basename(path))[0]
    if tag:
        dia = f'{tag}/{dia}'
    if media is not None and media_dir is not None and not os.path.isabs(media):
        media = os.path.join(media_dir, media)
    repairs = TextRepairs()
    utts = [_cue_utterance(c, path, dia, media, default_speaker, speaker_prefix,
                           repairs if fix_mojibake else None) for c in cues]
    return utts, repairs, kind


def load_transcript(path: str, media: Optional[str] = None,
                    dialogue_id: Optional[str] = None, default_speaker: Any = None,
                    speaker_prefix: bool = True) -> Dialogue:
    """The transcript of one recording as ONE dialogue: a ``.srt``/``.vtt`` file
    (:func:`read_subtitles`) or a CSV/TSV/JSONL table of one conversation
    (:func:`~.tables.read_conversation_table`: it may lack the dialogue and utterance id
    columns; its ``start``/``end`` columns give the times).

    Args:
        path: the transcript.
        media: the recording, attached to every utterance without one (as given, not
            relative to the transcript).
        dialogue_id: the conversation's id when the file names none (default: the
            file's stem).
        default_speaker: the speaker of utterances without one (None: ``'unknown'``).
        speaker_prefix: subtitles only: read ``Name: text`` speaker labels.

    Returns:
        The :class:`~.utterances.Dialogue` (split ``'test'``).

    Raises:
        ConversationTableError: any reader's error, or a table of several dialogues.
    """
    dialogue_id = dialogue_id or os.path.splitext(os.path.basename(path))[0]
    if detect_format(path, kind=TABLE) in (SRT, VTT):
        utts = read_subtitles(path, media=media, dialogue_id=dialogue_id,
                              default_speaker=default_speaker,
                              speaker_prefix=speaker_prefix)[0]
    else:
        utts = read_conversation_table(path, media=media, dialogue_id=dialogue_id,
                                       default_speaker=default_speaker)[0]
    dialogues = group_dialogues(utts, 'test')
    if len(dialogues) != 1:
        raise ConversationTableError(
            f'{path}: holds {len(dialogues)} dialogues '
            f'({[d.dialogue_id for d in dialogues[:5]]}); the transcript of one recording '
            'is one conversation')
    return dialogues[0]


def _needs_times(utt: Utterance) -> None:
    if utt.start is None or utt.end is None:
        raise ConversationTableError(
            f'{utt.source}: utterance {utt.utterance_id!r} has no start/end time; a '
            'transcript of a recording needs both (a .srt/.vtt file, or start/end columns)')


def check_cue_times(dialogue: Dialogue, duration: float, media: str,
                    tolerance: float = 0.5) -> None:
    """Every utterance (cue) lies in the recording.

    Args:
        dialogue: the transcript (every utterance with ``start`` and ``end``).
        duration: the recording's length in seconds.
        media: the recording, named in messages.
        tolerance: how far (seconds) a cue may end after the recording does.

    Raises:
        ConversationTableError: an utterance without times, one that starts at or
            after the end of the recording, or ends more than ``tolerance`` after it,
            naming the cue and both times.
    """
    if not math.isfinite(duration) or duration <= 0:
        raise ValueError(f'{media}: duration {duration!r} must be a positive number of '
                         'seconds')
    end_of = format_timestamp(duration)
    for u in dialogue.utterances:
        _needs_times(u)
        if u.start >= duration:
            raise ConversationTableError(
                f'{u.source}: the cue starts at {format_timestamp(u.start)}, but {media} '
                f'ends at {end_of}; is it the transcript of this recording?')
        if u.end > duration + tolerance:
            raise ConversationTableError(
                f'{u.source}: the cue ends at {format_timestamp(u.end)}, more than '
                f'{tolerance:g} s after {media} ends at {end_of}; is it the transcript of '
                'this recording?')


def overlapping_cues(dialogue: Dialogue, min_overlap: float = 0.0) -> List[str]:
    """Notes on utterances (cues) that overlap in time, e.g. ``'cues 3 and 4 overlap
    by 0.40 s (00:00:12.600 to 00:00:13.000)'``; overlapping cues are kept (people talk
    over each other), the caller reports the notes.

    Args:
        dialogue: the transcript (every utterance with ``start`` and ``end``).
        min_overlap: report only overlaps longer than this (seconds).

    Returns:
        One note per overlapping pair, in the order of their start times.
    """
    for u in dialogue.utterances:
        _needs_times(u)
    order = sorted(dialogue.utterances, key=lambda u: (u.start, u.end))
    notes = []
    for k, a in enumerate(order):
        for b in order[k + 1:]:
            if b.start >= a.end:
                break
            overlap = min(a.end, b.end) - b.start
            if overlap > min_overlap:
                notes.append(
                    f'cues {a.utterance_id} and {b.utterance_id} overlap by {overlap:.2f} s '
                    f'({format_timestamp(b.start)} to '
                    f'{format_timestamp(min(a.end, b.end))})')
    return notes


def _head_text(head: bytes) -> str:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return head[:len(head) // 2 * 2].decode('utf-16', errors='ignore')
    return head.decode('utf-8', errors='replace').lstrip('\ufeff')


def _looks_vtt(path: str, head: bytes) -> bool:
    """A first line ``WEBVTT``."""
    return re.match(r'WEBVTT(?:[ \t\r\n]|$)', _head_text(head)) is not None


def _looks_srt(path: str, head: bytes) -> bool:
    """A cue number and a timing line first (or a timing line alone)."""
    lines = [line for line in _head_text(head).splitlines() if line.strip()][:2]
    if not lines:
        return False
    timing = lines[1] if lines[0].strip().isdigit() and len(lines) > 1 else lines[0]
    return _TIMING.match(timing) is not None


#: SubRip subtitles: numbered cues, ``HH:MM:SS,mmm --> HH:MM:SS,mmm`` timings.
SRT = register_format(InputFormat(
    'srt', TABLE, ('.srt', ), _looks_srt, read_subtitles,
    description='a SubRip (.srt) transcript'))
#: WebVTT subtitles (``WEBVTT`` header, ``<v Speaker>`` voice tags).
VTT = register_format(InputFormat(
    'vtt', TABLE, ('.vtt', ), _looks_vtt, read_subtitles,
    description='a WebVTT (.vtt) transcript'))

"""Utterances and dialogues of conversations, and the one validator of an utterance row.

A row of a conversation table (:mod:`.tables`) and an utterance record given to the
inferencer (``{speaker, text, [media, start, end, utterance_id, label]}``) are checked
by the same function, :func:`make_utterance`: ids present, a non-empty text (when
there is a text), times that are seconds or ``HH:MM:SS,mmm`` with the end after the
start.  Every error is a :class:`ConversationTableError` naming where the row came
from, the dialogue and the utterance.
"""
import math
import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

from .decoding import TextRepairs, fix_mojibake
from .errors import ConversationTableError

__all__ = ['Utterance', 'Dialogue', 'UTTERANCE_FIELDS', 'RECORD_KEYS', 'make_utterance',
           'dialogue_from_records', 'group_dialogues', 'parse_time', 'id_key']

#: The fields of an utterance row (the column keys of a table).
UTTERANCE_FIELDS = ('dialogue', 'utterance', 'text', 'speaker', 'label', 'media', 'start',
                    'end')
#: The keys of an utterance record (one conversation: no dialogue key).
RECORD_KEYS = ('speaker', 'text', 'media', 'start', 'end', 'utterance_id', 'label')


@dataclass
class Utterance:
    """One validated utterance of a conversation.

    ``source`` says where it came from (``'file:line'`` for a table row, 1-based line of
    the row's start; ``"conversation 'c', utterance 3"`` for a record), used in every
    later error message about this utterance.
    """
    dialogue_id: str
    utterance_id: str
    text: Optional[str]
    speaker: Any
    label: Optional[str]
    media: Optional[str] = None
    start: Optional[float] = None
    end: Optional[float] = None
    source: str = ''
    sentiment: Optional[str] = None  # a table's sentiment column (MELD's), as written


@dataclass
class Dialogue:
    """A dialogue's utterances in order, and the split it belongs to."""
    dialogue_id: str
    utterances: List[Utterance]
    split: str = 'train'

    def __len__(self) -> int:
        return len(self.utterances)


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


def _optional_text(value: Any) -> Any:
    """Strings trimmed (blank -> None); None and other values as they are."""
    if isinstance(value, str):
        return value.strip() or None
    return value


def _check_encodable(text: str, where: str) -> None:
    """Refuse a string that is not valid Unicode text (a lone surrogate such as
    ``'\\ud800'``, which JSON escapes and surrogate-escaped bytes produce): no encoder
    can read it."""
    try:
        text.encode('utf-8')
    except UnicodeEncodeError as exc:
        raise ConversationTableError(
            f'{where}: character {exc.start} ({text[exc.start]!r}) is a lone surrogate, '
            'not valid Unicode text (undecodable bytes, or a JSON "\\ud800" escape without '
            'its pair)') from None


def make_utterance(dialogue_id: str, utterance_id: str, *, where: str,
                   text: Optional[str] = None, speaker: Any = None, label: Any = None,
                   media: Optional[str] = None, start: object = None, end: object = None,
                   names: Optional[Mapping[str, str]] = None,
                   repairs: Optional[TextRepairs] = None) -> Utterance:
    """The one validator of an utterance row (table rows and inference records).

    Args:
        dialogue_id, utterance_id: the ids (trimmed; must not be empty).
        where: where the row is, the start of every message (``'t.csv:3'``).
        text: the transcript, or None when there is none (trimmed; must not be empty).
        speaker: a name (trimmed; empty or None -> ``'unknown'``) or an index.
        label: an emotion name (trimmed; empty -> None, unlabelled).
        media: the media file, already resolved by the caller (empty -> None).
        start, end: segment of the media, see :func:`parse_time`.
        names: field (:data:`UTTERANCE_FIELDS`) -> how messages name it
            (``"column 'Utterance'"``); default the field's name.
        repairs: collect mojibake repairs of the text here (None: no repair).

    Raises:
        ConversationTableError: an empty id or text, a text that is not valid Unicode
            (a lone surrogate), a malformed time, an end not after its start.
        TypeError: a text that is not a string.
    """
    name = dict({f: f for f in UTTERANCE_FIELDS}, **(names or {}))
    dia, utt = str(dialogue_id).strip(), str(utterance_id).strip()
    for key, value in (('dialogue', dia), ('utterance', utt)):
        if not value:
            raise ConversationTableError(f'{where}: {name[key]} is empty')
    if text is not None:
        if not isinstance(text, str):
            raise TypeError(f'{where}: {name["text"]} must be a string, got '
                            f'{type(text).__name__}')
        text = text.strip()
        _check_encodable(text, f'{where}: {name["text"]}')
        if not text:
            raise ConversationTableError(
                f'{where}: {name["text"]} is empty (dialogue {dia!r}, utterance {utt!r}); '
                'every utterance needs its transcript (an empty text would get the same '
                'features as every other empty one)')
        if repairs is not None:
            text = fix_mojibake(text, where, repairs)
    start = parse_time(start, f'{where}: {name["start"]}')
    end = parse_time(end, f'{where}: {name["end"]}')
    if start is not None and end is not None and end <= start:
        raise ConversationTableError(
            f'{where}: segment end {end:.3f}s is not after its start {start:.3f}s')
    speaker = _optional_text(speaker)
    return Utterance(dialogue_id=dia, utterance_id=utt, text=text,
                     speaker='unknown' if speaker is None else speaker,
                     label=_optional_text(label), media=_optional_text(media),
                     start=start, end=end, source=where)


def dialogue_from_records(records: Sequence[Mapping[str, Any]], dialogue_id: str) -> Dialogue:
    """One conversation given as utterance dicts (:data:`RECORD_KEYS`) -> a Dialogue.

    Each record is checked by :func:`make_utterance`, like a table row; utterance ids
    default to the position (``'0'``, ``'1'``, ...).

    Raises:
        TypeError: a record that is not a dict, a text that is not a string.
        ConversationTableError: an unknown key, an empty text, a malformed time, no
            utterances (the message names the conversation and the utterance).
    """
    utts = []
    for i, r in enumerate(records):
        # the id the utterance goes by (a live session's records give theirs)
        uid = r.get('utterance_id', i) if isinstance(r, Mapping) else i
        where = f'conversation {dialogue_id!r}, utterance {uid}'
        if not isinstance(r, Mapping):
            raise TypeError(f'{where}: expected a dict with keys {list(RECORD_KEYS)}, '
                            f'got {type(r).__name__}')
        unknown = [k for k in r if k not in RECORD_KEYS]
        if unknown:
            raise ConversationTableError(f'{where}: unknown keys {unknown}; expected some '
                                         f'of {list(RECORD_KEYS)}')
        utts.append(make_utterance(
            dialogue_id, str(r.get('utterance_id', i)), where=where, text=r.get('text'),
            speaker=r.get('speaker'), label=r.get('label'), media=r.get('media'),
            start=r.get('start'), end=r.get('end'), names=dict(utterance='utterance_id',
                                                               dialogue='dialogue_id')))
    if not utts:
        raise ConversationTableError(f'conversation {dialogue_id!r} has no utterances')
    return Dialogue(utts[0].dialogue_id, utts, 'test')


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

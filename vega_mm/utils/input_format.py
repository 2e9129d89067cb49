"""The registry of input formats: every file vega_mm reads is one of them.

A format has a name, a kind (:data:`FEATURES`: a feature file, read into a
:class:`~vega_mm.datasets.formats.ConversationCollection`; :data:`TABLE`: a
conversation table of utterances, read by
:func:`~vega_mm.conversations.read_conversation_table`), the file-name suffixes it
claims, a sniffing function that recognises its content, and its reader.  The formats
register themselves where their readers live (``vega_mm/datasets/formats/loader.py``:
the pickles and the native ``.npz``; ``vega_mm/conversations/tables.py``: CSV/TSV and
JSONL tables; ``vega_mm/conversations/subtitles.py``: SRT and WebVTT);
:func:`detect_format` is the one place that decides which format a file is.  The
registry sits on the bottom floor because both packages register in it.

Adding a format: write its reader and a sniffing function, and call
:func:`register_format` beside them (see ``docs/internals.md``).
"""
import os
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

__all__ = ['FEATURES', 'TABLE', 'KINDS', 'InputFormat', 'register_format', 'input_formats',
           'format_of_variant', 'accepted_suffixes', 'format_names', 'describe_kinds',
           'detect_format', 'read_head']

#: Kind of a feature file (per-utterance features: pickles, native ``.npz``).
FEATURES = 'features'
#: Kind of a conversation table (one utterance per row: speaker, text, media, ...).
TABLE = 'table'
KINDS: Tuple[str, ...] = (FEATURES, TABLE)
_KIND_NAMES = {FEATURES: 'a feature file', TABLE: 'a conversation table'}
_WRONG_KIND_HINT = {FEATURES: ' (tools/extract_features.py makes one from conversation '
                              'tables)', TABLE: ''}
_HEAD_BYTES = 64 * 1024


@dataclass(frozen=True)
class InputFormat:
    """One input format.

    Attributes:
        name: the format's name (``'native'``, ``'pickle'``, ``'csv'``, ``'jsonl'``).
        kind: :data:`FEATURES` or :data:`TABLE`.
        suffixes: the lower-case file-name suffixes it claims (``('.npz',)``).
        sniff: ``sniff(path, head) -> bool``: does the content look like this format?
            ``head`` is the file's first bytes (up to 64 KiB).
        read: the reader, ``read(path, ...)`` (feature files: a
            ``ConversationCollection``; tables: ``(utterances, repairs, format)``).
        variants: the explicit format names it reads (``data_format=`` of a feature
            file, ``fmt=`` of a table); default ``(name,)``.
        description: what the files are, for messages.
    """
    name: str
    kind: str
    suffixes: Tuple[str, ...]
    sniff: Callable[[str, bytes], bool]
    read: Callable[..., Any]
    variants: Tuple[str, ...] = ()
    description: str = ''

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f'input format {self.name!r}: kind must be one of {KINDS}, '
                             f'got {self.kind!r}')
        bad = [s for s in self.suffixes if not s.startswith('.') or s != s.lower()]
        if bad:
            raise ValueError(f'input format {self.name!r}: suffixes must be lower case and '
                             f"start with '.', got {bad}")
        if not self.variants:
            object.__setattr__(self, 'variants', (self.name, ))

    def claims(self, path: str) -> bool:
        """Does ``path``'s name end with one of this format's suffixes?"""
        return os.fspath(path).lower().endswith(self.suffixes)


_FORMATS: Dict[str, InputFormat] = {}


def register_format(fmt: InputFormat) -> InputFormat:
    """Add a format (within its kind, registration order is the order of sniffing and of
    messages).

    Raises:
        ValueError: its name, a variant or a suffix already belongs to another format.
    """
    for other in _FORMATS.values():
        if other.name == fmt.name:
            continue
        clash = (set(fmt.variants) & set(other.variants)) | \
            (set(fmt.suffixes) & set(other.suffixes))
        if clash or fmt.name in other.variants:
            raise ValueError(f'input format {fmt.name!r}: {sorted(clash) or [fmt.name]} '
                             f'already belong(s) to format {other.name!r}')
    _FORMATS[fmt.name] = fmt
    return fmt


def input_formats(kind: Optional[str] = None) -> List[InputFormat]:
    """The registered formats (of one kind): feature files first, then tables, each kind
    in registration order (the order of sniffing and of messages, whichever package was
    imported first)."""
    if kind is not None and kind not in KINDS:
        raise ValueError(f'kind must be one of {KINDS}, got {kind!r}')
    return [f for k in KINDS for f in _FORMATS.values()
            if f.kind == k and (kind is None or k == kind)]


def format_names(kind: str) -> Tuple[str, ...]:
    """``('auto',)`` and every variant of the formats of ``kind``: the accepted values of
    ``data_format`` (feature files) or ``fmt`` (tables)."""
    return ('auto', ) + tuple(v for f in input_formats(kind) for v in f.variants)


def format_of_variant(variant: str, kind: str, source: str = '') -> InputFormat:
    """The format of ``kind`` that reads the explicit format name ``variant``.

    Raises:
        ValueError: no such format, naming ``source`` and the accepted names.
    """
    for f in input_formats(kind):
        if variant in f.variants:
            return f
    where = f'{source}: ' if source else ''
    key = 'data_format' if kind == FEATURES else 'table format'
    raise ValueError(f'{where}unknown {key} {variant!r}; expected one of '
                     f'{format_names(kind)}')


def accepted_suffixes(kind: Optional[str] = None) -> Tuple[str, ...]:
    """Every suffix claimed by the formats (of one kind)."""
    return tuple(s for f in input_formats(kind) for s in f.suffixes)


def describe_kinds(kind: Optional[str] = None) -> str:
    """``'a feature file (.npz, .pkl, .pickle) or a conversation table (...)'``."""
    kinds = KINDS if kind is None else (kind, )
    return ' or '.join(f'{_KIND_NAMES[k]} ({", ".join(accepted_suffixes(k))})'
                       for k in kinds)


def read_head(path: str, size: int = _HEAD_BYTES) -> bytes:
    """The first ``size`` bytes of a file (b'' if it cannot be read)."""
    try:
        with open(path, 'rb') as f:
            return f.read(size)
    except OSError:
        return b''


def _sniffed(path: str, skip: Optional[InputFormat]) -> Optional[InputFormat]:
    head = read_head(path)
    if skip is not None and skip.sniff(path, head):
        return skip
    for f in input_formats():
        if f is not skip and f.sniff(path, head):
            return f
    return None


def detect_format(path: str, kind: Optional[str] = None) -> InputFormat:
    """Which format a file is: by its content when a format recognises it (the format
    its suffix names is asked first), else by its suffix.

    Args:
        path: the file.
        kind: :data:`FEATURES` or :data:`TABLE` when only that kind is accepted here.

    Returns:
        The :class:`InputFormat` (``.kind`` says feature file or table).

    Raises:
        ValueError: a file that no format recognises, naming the file and the accepted
            suffixes, or one of another kind than ``kind``.
        FileNotFoundError: a missing file whose suffix no format claims.
    """
    path = os.fspath(path)
    by_suffix = next((f for f in input_formats() if f.claims(path)), None)
    found = _sniffed(path, by_suffix) if os.path.isfile(path) else None
    found = found or by_suffix
    if found is None:
        if not os.path.exists(path):
            raise FileNotFoundError(f'{path}: no such file')
        suffix = os.path.splitext(path)[1] or '(none)'
        raise ValueError(f'{path}: not a format vega_mm reads: its suffix {suffix} is not '
                         f'one of {describe_kinds(kind)}, and its content looks like none '
                         f'of the formats {[f.name for f in input_formats(kind)]}')
    if kind is not None and found.kind != kind:
        raise ValueError(f'{path}: {found.description or found.name}, but '
                         f'{describe_kinds(kind)} is needed here{_WRONG_KIND_HINT[kind]}')
    return found

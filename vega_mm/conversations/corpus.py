"""The conversation tables of one extraction: which table goes to which split, and all
of them read, validated and resolved (classes, labels, speakers, validation split).

:func:`load_tables` reads every table with
:func:`~vega_mm.conversations.tables.read_conversation_table`; :func:`meld_tables` knows
MELD's file layout.
"""
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from vega_mm.structures.meta import KNOWN_DATASETS, MELD_CLASSES, SENTIMENTS, SPLITS
from vega_mm.structures.splits import make_val_split
from vega_mm.utils.io import file_digest
from .errors import ConversationTableError
from .speakers import build_speaker_map
from .tables import read_conversation_table
from .utterances import Dialogue, group_dialogues

__all__ = ['TableSpec', 'ConversationTables', 'load_tables', 'meld_tables',
           'MELD_TABLE_SPLITS', 'DISCOVER_CLASSES']

#: MELD's table names (``{name}_sent_emo.csv``), also the dialogue-id tags of its rows.
MELD_TABLE_SPLITS: Tuple[str, ...] = ('train', 'dev', 'test')


@dataclass
class TableSpec:
    """One conversation table and the split its dialogues go to.

    Args:
        path: the table (CSV/TSV/JSONL; MELD CSVs are detected).
        split: ``'train'``, ``'val'`` or ``'test'``.
        fmt: ``'auto'``, ``'meld'``, ``'csv'`` or ``'jsonl'``.
        media_dir: directory of the media files (MELD: of the ``dia*_utt*.mp4`` clips).
        media_template: media path pattern (``{dialogue}``, ``{utterance}``) for tables
            without a media column.
        tag: dialogue-id prefix; default: MELD's split name from the file name
            (``train``/``dev``/``test``), else ``split``.
        columns: explicit column names (see :data:`~vega_mm.conversations.tables.COLUMN_ALIASES`).
    """
    path: str
    split: str = 'train'
    fmt: str = 'auto'
    media_dir: Optional[str] = None
    media_template: Optional[str] = None
    tag: Optional[str] = None
    columns: Optional[Dict[str, str]] = None


@dataclass
class ConversationTables:
    """Validated dialogues of all tables, with labels and speakers resolved."""
    dialogues: List[Dialogue]
    classes: Tuple[str, ...]
    labels: Dict[str, np.ndarray]  # dialogue id -> int64 [L]
    speaker_map: Dict[str, int]
    speaker_names: List[str]
    repairs: Dict[str, str] = field(default_factory=dict)  # table -> summary
    tables: List[Dict[str, Any]] = field(default_factory=list)
    val_rule: Optional[Dict[str, Any]] = None
    # dialogue id -> int64 [L] sentiment indices (SENTIMENTS; -1: unknown), or None
    # when no table has a sentiment column
    sentiments: Optional[Dict[str, np.ndarray]] = None

    def split_ids(self) -> Dict[str, List[str]]:
        """Split -> dialogue ids, in file order."""
        out: Dict[str, List[str]] = {s: [] for s in SPLITS}
        for d in self.dialogues:
            out[d.split].append(d.dialogue_id)
        return out

    def speakers(self, dialogue: Dialogue) -> np.ndarray:
        """Speaker indices of a dialogue's utterances, int64 [L]."""
        return np.asarray([self.speaker_map[u.speaker] for u in dialogue.utterances],
                          dtype=np.int64)


def meld_tables(meld_dir: str, media_dirs: Optional[Mapping[str, str]] = None,
                columns: Optional[Dict[str, str]] = None) -> List[TableSpec]:
    """The tables of a MELD folder and their splits.

    ``train_sent_emo.csv`` is the training table.  With ``test_sent_emo.csv`` present,
    ``dev_sent_emo.csv`` is the validation table and the test file the test table;
    without it, dev is the test split and validation is held out of train
    (:func:`load_tables`' ``val_fraction``).

    Args:
        meld_dir: the folder of the ``*_sent_emo.csv`` files.
        media_dirs: MELD table name (``'train'``, ``'dev'``, ``'test'``) -> folder of its
            ``dia*_utt*.mp4`` clips.
        columns: explicit column names, for every table.

    Returns:
        :class:`TableSpec` objects (train, dev, then test if present).

    Raises:
        FileNotFoundError: ``train_sent_emo.csv`` or ``dev_sent_emo.csv`` is missing.
    """
    media_dirs = media_dirs or {}
    files = {s: os.path.join(meld_dir, f'{s}_sent_emo.csv') for s in MELD_TABLE_SPLITS}
    for s in ('train', 'dev'):
        if not os.path.isfile(files[s]):
            raise FileNotFoundError(f'{files[s]} does not exist')
    has_test = os.path.isfile(files['test'])
    roles = {'train': 'train', 'dev': 'val' if has_test else 'test'}
    if has_test:
        roles['test'] = 'test'
    return [TableSpec(files[s], role, fmt='meld', media_dir=media_dirs.get(s),
                      columns=columns) for s, role in roles.items()]


def _default_tag(spec: TableSpec, fmt: str) -> str:
    if spec.tag:
        return spec.tag
    if fmt == 'meld':
        stem = os.path.basename(spec.path).split('_')[0].lower()
        if stem in MELD_TABLE_SPLITS:
            return stem
    return spec.split


def _check_specs(tables: Sequence[TableSpec]) -> None:
    if not tables:
        raise ValueError('no conversation table given')
    bad = [t.split for t in tables if t.split not in SPLITS]
    if bad:
        raise ValueError(f'table split must be one of {SPLITS}, got {bad}')
    if not any(t.split == 'train' for t in tables):
        raise ValueError('a training table is needed (its speakers, validation split '
                         'and standardisation statistics come from it)')


def _read_tables(tables: Sequence[TableSpec], fix_mojibake: bool,
                 log: Callable[[str], None]) -> Tuple[List[Dialogue], Dict[str, str],
                                                      List[Dict[str, Any]], List[str]]:
    """Every table's dialogues (ids prefixed with the table's tag), text repairs, table
    descriptions (path, digest, ...) and detected formats."""
    dialogues: List[Dialogue] = []
    owner: Dict[str, str] = {}
    repairs: Dict[str, str] = {}
    infos: List[Dict[str, Any]] = []
    formats: List[str] = []
    for spec in tables:
        utts, rep, fmt = read_conversation_table(
            spec.path, fmt=spec.fmt, tag=None, columns=spec.columns,
            media_dir=spec.media_dir, media_template=spec.media_template,
            fix_mojibake=fix_mojibake)
        tag = _default_tag(spec, fmt)
        for u in utts:
            u.dialogue_id = f'{tag}/{u.dialogue_id}'
        formats.append(fmt)
        if len(rep):
            repairs[spec.path] = rep.summary()
            log(f'{spec.path}: repaired text: {rep.summary()}')
        for d in group_dialogues(utts, spec.split):
            if d.dialogue_id in owner:
                raise ConversationTableError(
                    f'{spec.path}: dialogue {d.dialogue_id!r} also appears in '
                    f'{owner[d.dialogue_id]}; give the tables different tags')
            owner[d.dialogue_id] = spec.path
            dialogues.append(d)
        # sha1: the digest earlier parts manifests and feature files recorded
        infos.append(dict(path=os.path.abspath(spec.path), split=spec.split, tag=tag,
                          format=fmt, rows=len(utts), sha1=file_digest(spec.path, 'sha1'),
                          media_dir=None if spec.media_dir is None
                          else os.path.abspath(spec.media_dir)))
    return dialogues, repairs, infos, formats


#: ``classes=DISCOVER_CLASSES``: the classes are the sorted labels of the training split.
DISCOVER_CLASSES = 'discover'


def _resolve_classes(dialogues: Sequence[Dialogue], formats: Sequence[str],
                     classes: Union[None, str, Sequence[str]],
                     log: Callable[[str], None]) -> Tuple[str, ...]:
    if isinstance(classes, str) and classes.lower() in KNOWN_DATASETS:
        classes = KNOWN_DATASETS[classes.lower()]['classes']
    elif isinstance(classes, str) and classes != DISCOVER_CLASSES:
        raise ValueError(f'classes={classes!r}: expected a list of class names, '
                         f'{DISCOVER_CLASSES!r} or a known dataset {sorted(KNOWN_DATASETS)}')
    if classes is None:
        if not all(f == 'meld' for f in formats):
            raise ConversationTableError(
                'the class list is not declared, so a misspelt label could not be told '
                'from a new class: give the class names in label order (--classes '
                f'a,b,c), a known dataset ({", ".join(sorted(KNOWN_DATASETS))}), or '
                f'{DISCOVER_CLASSES!r} to use the sorted labels of the training split')
        classes = MELD_CLASSES
    elif classes == DISCOVER_CLASSES:
        seen = sorted({u.label.lower() for d in dialogues if d.split == 'train'
                       for u in d.utterances if u.label is not None})
        if not seen:
            raise ConversationTableError('the training table has no labels to discover '
                                         'the classes from; give the class names')
        classes = tuple(seen)
        log(f'classes (discovered: sorted training labels): {list(classes)}')
    return tuple(str(c) for c in classes)


def _labels(dialogues: Sequence[Dialogue], classes: Sequence[str],
            log: Callable[[str], None]) -> Dict[str, np.ndarray]:
    """Dialogue id -> int64 label indices (-1: unlabelled)."""
    index = {c.lower(): i for i, c in enumerate(classes)}
    labels: Dict[str, np.ndarray] = {}
    unlabelled = 0
    for d in dialogues:
        lab = []
        for u in d.utterances:
            if u.label is None:
                lab.append(-1)
                unlabelled += 1
                continue
            if u.label.lower() not in index:
                raise ConversationTableError(
                    f'{u.source}: unknown emotion {u.label!r} (dialogue {d.dialogue_id!r}, '
                    f'utterance {u.utterance_id!r}); known classes: {list(classes)}')
            lab.append(index[u.label.lower()])
        labels[d.dialogue_id] = np.asarray(lab, dtype=np.int64)
    if unlabelled:
        log(f'{unlabelled} utterance(s) have no label (stored as -1)')
    return labels


def _sentiments(dialogues: Sequence[Dialogue]) -> Optional[Dict[str, np.ndarray]]:
    """Dialogue id -> int64 sentiment indices (:data:`SENTIMENTS`; -1: none given), or
    None when no row has a sentiment (no table has the column)."""
    if not any(u.sentiment is not None for d in dialogues for u in d.utterances):
        return None
    index = {s: i for i, s in enumerate(SENTIMENTS)}
    out: Dict[str, np.ndarray] = {}
    for d in dialogues:
        values = []
        for u in d.utterances:
            if u.sentiment is not None and u.sentiment.lower() not in index:
                raise ConversationTableError(
                    f'{u.source}: unknown sentiment {u.sentiment!r} (dialogue '
                    f'{d.dialogue_id!r}, utterance {u.utterance_id!r}); expected one of '
                    f'{list(SENTIMENTS)} or empty')
            values.append(-1 if u.sentiment is None else index[u.sentiment.lower()])
        out[d.dialogue_id] = np.asarray(values, dtype=np.int64)
    return out


def _hold_out_val(dialogues: Sequence[Dialogue], fraction: float,
                  seed: int) -> Optional[Dict[str, Any]]:
    """Move ``fraction`` of the training dialogues to ``'val'`` unless a table gave a
    validation split; returns the rule used (recorded in the feature file) or None."""
    if any(d.split == 'val' for d in dialogues):
        return None
    # Extraction always holds out some dialogues (model selection needs them); the
    # shared split rule itself also accepts 0.
    if not 0 < fraction < 1:
        raise ValueError(f'validation fraction must be in (0, 1), got {fraction}')
    train_ids = [d.dialogue_id for d in dialogues if d.split == 'train']
    _, val_ids = make_val_split(train_ids, fraction, seed)
    val_set = set(val_ids)
    for d in dialogues:
        if d.dialogue_id in val_set:
            d.split = 'val'
    return dict(source='train', fraction=fraction, seed=seed, num_dialogues=len(val_ids))


def load_tables(tables: Sequence[TableSpec],
                classes: Union[None, str, Sequence[str]] = None,
                val_fraction: float = 0.1, split_seed: int = 0,
                max_speakers: Optional[int] = 9, fix_mojibake: bool = True,
                log: Callable[[str], None] = print) -> ConversationTables:
    """Read and validate all tables; derive the validation split if none is given.

    Without a ``val`` table, ``val_fraction`` of the training dialogues (deterministic,
    see :func:`~vega_mm.structures.splits.make_val_split`) become validation.

    Args:
        tables: the tables and their splits (one ``'train'`` at least).
        classes: class names in label order; a known dataset's name (``'meld'``,
            ``'iemocap'``); or :data:`DISCOVER_CLASSES` (``'discover'``): the sorted
            labels of the training split (reported). ``None`` means MELD's classes for
            MELD tables and is an error for other tables, so that a misspelt label is
            never taken for a new class.
        val_fraction: fraction of training dialogues held out, in ``(0, 1)``.
        split_seed: seed of the held-out split.
        max_speakers: see :func:`~vega_mm.conversations.speakers.build_speaker_map` (the
            speaker-index rule).
        fix_mojibake: repair UTF-8 text once decoded as Windows-1252.
        log: where reports go.

    Returns:
        The dialogues ordered by split (train, val, test; file order inside a split),
        with classes, labels, speakers, table descriptions and, when a table has a
        sentiment column (MELD's ``Sentiment``), the sentiments.

    Raises:
        ConversationTableError: unknown emotions or sentiments (with file, line and
            the known values), dialogues split across tables, and every error of
            :func:`~vega_mm.conversations.tables.read_conversation_table`.
    """
    _check_specs(tables)
    dialogues, repairs, infos, formats = _read_tables(tables, fix_mojibake, log)
    classes = _resolve_classes(dialogues, formats, classes, log)
    labels = _labels(dialogues, classes, log)
    val_rule = _hold_out_val(dialogues, val_fraction, split_seed)
    # Speakers: the rule of vega_mm.conversations.speakers, on the (final) training split.
    train_spk = [u.speaker for d in dialogues if d.split == 'train' for u in d.utterances]
    all_spk = [u.speaker for d in dialogues for u in d.utterances]
    speaker_map, speaker_names = build_speaker_map(train_spk, all_spk, max_speakers)
    order = {s: i for i, s in enumerate(SPLITS)}
    dialogues.sort(key=lambda d: order[d.split])  # stable: file order inside a split
    return ConversationTables(dialogues, classes, labels, speaker_map, speaker_names,
                              repairs, infos, val_rule, _sentiments(dialogues))

"""The in-memory result of every reader, and its validation.

A *raw dialogue* (see ``docs/internals.md``) is::

    dict(dialogue_id='d12',
         features={'text': float32[L, Dt], 'audio': float32[L, Da], 'visual': ...},
         speakers=int64[L], labels=int64[L],   # labels: -1 = unlabelled
         utterance_ids=['0', '1', ...],        # optional
         sentiments=int64[L])                  # optional: SENTIMENTS index, -1 = unknown
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from vega_mm.structures.meta import MODALITIES, SENTIMENTS, SPLITS
from vega_mm.structures.splits import make_val_split  # one split rule for every reader

__all__ = ['ConversationCollection', 'validate_collection', 'make_val_split', 'natural_sorted']

@dataclass
class ConversationCollection:
    """All dialogues of a feature file, with its splits and metadata.

    Attributes:
        dialogues: raw dialogue dicts (format above), in file order.
        splits: ``{'train': [...], 'val': [...], 'test': [...]}`` dialogue ids.
        classes: class names; label ``k`` means ``classes[k]``.
        modalities: the modalities present, in canonical order.
        feature_dims: modality -> feature dimension.
        num_speakers: speaker indices lie in ``[0, num_speakers)``.
        speaker_names: names of the speaker indices, or None.
        source: the file it was read from (for messages).
        data_format: ``'sdt'``, ``'vega'``, ``'native'`` or ``'synthetic'``.
        extra: free JSON-serialisable information kept in native files.
    """

    dialogues: List[dict]
    splits: Dict[str, List[str]]
    classes: Tuple[str, ...]
    modalities: Tuple[str, ...]
    feature_dims: Dict[str, int]
    num_speakers: int
    speaker_names: Optional[Tuple[str, ...]] = None
    source: str = ''
    data_format: str = ''
    extra: Dict[str, Any] = field(default_factory=dict)

    @property
    def metainfo(self) -> dict:
        """The dataset metainfo this collection defines."""
        return dict(
            classes=tuple(self.classes),
            modalities=tuple(self.modalities),
            feature_dims=dict(self.feature_dims),
            num_speakers=int(self.num_speakers),
            speaker_names=None if self.speaker_names is None else tuple(self.speaker_names))

    @property
    def has_sentiments(self) -> bool:
        """Whether every dialogue carries per-utterance ``sentiments``."""
        return all(d.get('sentiments') is not None for d in self.dialogues)

    def check_classes(self, wanted: Optional[Sequence[str]]) -> 'ConversationCollection':
        """The collection itself when its classes are ``wanted`` (or nothing is wanted).

        Raises:
            ValueError: other classes, naming the source and both lists.
        """
        if wanted is not None and tuple(wanted) != tuple(self.classes):
            raise ValueError(f'{self.source}: classes {list(wanted)} were asked for but the '
                             f'data has {list(self.classes)}')
        return self

    def get_split(self, split: str) -> List[dict]:
        """The dialogues of one split, in the split's order."""
        if split not in self.splits:
            raise KeyError(f'{self.source}: no split {split!r}; it has {list(self.splits)}')
        by_id = {d['dialogue_id']: d for d in self.dialogues}
        return [by_id[i] for i in self.splits[split]]

    def summary(self) -> str:
        """A human-readable summary: splits, modalities, classes and label counts."""
        lines = [f'{self.source} ({self.data_format}): {len(self.dialogues)} dialogues, '
                 f'{sum(len(d["labels"]) for d in self.dialogues)} utterances']
        lines.append('modalities: ' + ', '.join(
            f'{m} ({self.feature_dims[m]}-d)' for m in self.modalities))
        lines.append(f'classes ({len(self.classes)}): {", ".join(self.classes)}')
        names = '' if self.speaker_names is None else f' ({", ".join(self.speaker_names)})'
        lines.append(f'speakers: {self.num_speakers}{names}')
        for split in SPLITS:
            dialogues = self.get_split(split) if split in self.splits else []
            labels = (np.concatenate([d['labels'] for d in dialogues])
                      if dialogues else np.zeros(0, np.int64))
            counts = Counter(labels.tolist())
            per_class = ', '.join(f'{c} {counts.get(k, 0)}' for k, c in enumerate(self.classes))
            if counts.get(-1):
                per_class += f', unlabelled {counts[-1]}'
            lines.append(f'{split:>5}: {len(dialogues)} dialogues, {len(labels)} utterances'
                         f' | {per_class}')
        return '\n'.join(lines)


def natural_sorted(ids: Sequence[Any]) -> list:
    """Sort dialogue keys: numerically if all are integers, else as strings."""
    ids = list(ids)
    if all(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in ids):
        return sorted(ids, key=int)
    return sorted(ids, key=str)


def _fail(source: str, msg: str) -> None:
    raise ValueError(f'{source}: {msg}')


def _check_index_array(src: str, where: str, name: str, arr: Any, low: int, high: int,
                       what: str) -> None:
    """An int64 ``[L]`` array of ``name`` with values in ``[low, high)``."""
    if not isinstance(arr, np.ndarray) or arr.ndim != 1 or arr.dtype != np.int64:
        _fail(src, f'{where}: {name} must be an int64 array [L], got '
              f'{type(arr).__name__} {getattr(arr, "dtype", "")} {getattr(arr, "shape", "")}')
    bad = np.flatnonzero((arr < low) | (arr >= high))
    if bad.size:
        i = int(bad[0])
        _fail(src, f'{where}: {name}[{i}] = {int(arr[i])} is outside [{max(low, 0)}, {high})'
              f'{what}')


def _check_features(src: str, where: str, feats: Any, modalities: Tuple[str, ...], n: int,
                    dims: Dict[str, Tuple[int, str]]) -> None:
    """A dialogue's features: the declared modalities, each a finite float32 ``[n, D]``
    with the ``D`` of the first dialogue that has it (``dims``: modality -> (D, id))."""
    if not isinstance(feats, Mapping):
        _fail(src, f'{where}: features must be a dict modality -> array')
    if set(feats) - set(modalities):
        _fail(src, f'{where}: features has modality {sorted(set(feats) - set(modalities))} '
              f'that the file does not declare (it declares {list(modalities)})')
    for m in modalities:
        if m not in feats:
            _fail(src, f'{where}: no {m} features (the file declares {list(modalities)})')
        x = feats[m]
        if not isinstance(x, np.ndarray) or x.ndim != 2 or x.dtype != np.float32:
            _fail(src, f'{where}: {m} must be a float32 array [L, D], got '
                  f'{type(x).__name__} {getattr(x, "dtype", "")} {getattr(x, "shape", "")}')
        if x.shape[0] != n:
            _fail(src, f'{where}: {m} has {x.shape[0]} utterances but labels has {n}')
        dim, first = dims.setdefault(m, (int(x.shape[1]), where))
        if dim != int(x.shape[1]):
            _fail(src, f'{where}: {m} features have {int(x.shape[1])} dims but {dim} in '
                  f'{first}')
        finite = np.isfinite(x)
        if not finite.all():
            i = int(np.flatnonzero(~finite.all(axis=1))[0])
            kind = 'NaN' if np.isnan(x[i]).any() else 'Inf'
            _fail(src, f'{where}: {m} features hold {kind} at utterance {i}')


def _check_dialogue(src: str, d: Mapping[str, Any], coll: ConversationCollection,
                    dims: Dict[str, Tuple[int, str]]) -> None:
    """One raw dialogue (its id is checked by the caller)."""
    where = f'dialogue {d.get("dialogue_id")!r}'
    labels, speakers = d.get('labels'), d.get('speakers')
    classes = tuple(coll.classes)
    _check_index_array(src, where, 'labels', labels, -1, len(classes),
                       f' for classes {list(classes)}')
    n = len(labels)
    if n == 0:
        _fail(src, f'{where} has no utterances (empty dialogue)')
    _check_index_array(src, where, 'speakers', speakers, 0, coll.num_speakers, '')
    if len(speakers) != n:
        _fail(src, f'{where}: speakers has {len(speakers)} utterances but labels has {n}')
    _check_features(src, where, d.get('features'), tuple(coll.modalities), n, dims)
    uids = d.get('utterance_ids')
    if uids is not None and len(uids) != n:
        _fail(src, f'{where}: utterance_ids has {len(uids)} utterances but labels has {n}')
    if d.get('sentiments') is not None:
        _check_index_array(src, where, 'sentiments', d['sentiments'], -1, len(SENTIMENTS),
                           f' for sentiments {list(SENTIMENTS)} (-1: unknown)')
        if len(d['sentiments']) != n:
            _fail(src, f'{where}: sentiments has {len(d["sentiments"])} utterances but '
                  f'labels has {n}')


def _check_splits(src: str, splits: Mapping[str, Sequence[str]], seen: set) -> None:
    """Known split names, naming dialogues of the data, each in one split once."""
    owner: Dict[str, str] = {}
    for split, ids in splits.items():
        if split not in SPLITS:
            _fail(src, f'unknown split {split!r}; expected {SPLITS}')
        missing = [i for i in ids if i not in seen]
        if missing:
            _fail(src, f'{split} split names {len(missing)} dialogue(s) not in the data, '
                  f'e.g. {missing[:3]}')
        for i in ids:
            if owner.get(i) == split:
                _fail(src, f'dialogue {i!r} is listed twice in the {split} split')
            if i in owner:
                _fail(src, f'dialogue {i!r} is in both the {owner[i]} and the {split} split')
            owner[i] = split


def validate_collection(coll: ConversationCollection) -> ConversationCollection:
    """Check a collection against the raw-dialogue contract; raise naming the culprit.

    Checks: unique string ids; non-empty dialogues; every modality present in every
    dialogue as a finite float32 ``[L, D]`` array with one ``D`` per modality; speakers
    and labels int64 ``[L]``; speakers in ``[0, num_speakers)``; labels in ``[-1, C)``
    (``-1`` = unlabelled); optional sentiments int64 ``[L]`` in ``[-1, 3)``; utterance
    ids of length ``L``; split ids present in the data
    and in one split only.

    Returns:
        ``coll`` itself, with ``feature_dims`` filled in.

    Raises:
        ValueError: naming the file, the dialogue and the field.
    """
    src = coll.source or '<conversations>'
    if not coll.dialogues:
        _fail(src, 'holds no dialogues')
    coll.classes, coll.modalities = tuple(coll.classes), tuple(coll.modalities)
    if not coll.classes:
        _fail(src, 'no class names')
    unknown = [m for m in coll.modalities if m not in MODALITIES]
    if unknown:
        _fail(src, f'unknown modality {unknown}; expected names from {MODALITIES}')
    if not coll.modalities:
        _fail(src, 'holds no feature modality')
    dims: Dict[str, Tuple[int, str]] = {}
    seen = set()
    for d in coll.dialogues:
        did = d.get('dialogue_id')
        if not isinstance(did, str):
            _fail(src, f'dialogue id {did!r} is not a string')
        if did in seen:
            _fail(src, f'dialogue {did!r} appears twice')
        seen.add(did)
        _check_dialogue(src, d, coll, dims)
    _check_splits(src, coll.splits, seen)
    if coll.speaker_names is not None and len(coll.speaker_names) != coll.num_speakers:
        _fail(src, f'{len(coll.speaker_names)} speaker names for {coll.num_speakers} speakers')
    coll.feature_dims = {m: dims[m][0] for m in coll.modalities}
    return coll

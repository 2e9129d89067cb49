"""Readers for the public SDT / MMGCN and VEGA feature pickles.

SDT / MMGCN (IEMOCAP, 12 items; MELD, 13 items with a trailing unused one)::

    videoIDs, videoSpeakers, videoLabels, videoText, roberta2, roberta3, roberta4,
    videoAudio, videoVisual, videoSentence, trainVid, testVid[, unused]

VEGA (7 items)::

    videoSpeakers, videoLabels, videoText, videoAudio, videoVisual, trainVid, testVid

Every ``video*`` item is a dict keyed by dialogue id holding one entry per utterance.
Speakers are ``'M'``/``'F'`` (IEMOCAP; M -> 0, F -> 1, in either case) or one-hot
vectors (MELD, 9-d; each exactly one 1, the rest 0). Text features are
``videoText`` (IEMOCAP text in VEGA files may carry a leading singleton dimension).
"""
from collections.abc import Mapping
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from vega_mm.conversations.speakers import speaker_key
from vega_mm.structures.meta import KNOWN_DATASETS
from .collection import (ConversationCollection, make_val_split, natural_sorted,
                         validate_collection)

__all__ = ['SDT_FIELDS', 'VEGA_FIELDS', 'PICKLE_LENGTHS', 'detect_pickle_format',
           'read_pickle_conversations']

SDT_FIELDS: Tuple[str, ...] = (
    'videoIDs', 'videoSpeakers', 'videoLabels', 'videoText', 'roberta2', 'roberta3',
    'roberta4', 'videoAudio', 'videoVisual', 'videoSentence', 'trainVid', 'testVid')
VEGA_FIELDS: Tuple[str, ...] = ('videoSpeakers', 'videoLabels', 'videoText', 'videoAudio',
                                'videoVisual', 'trainVid', 'testVid')
#: Accepted tuple lengths per pickle format.
PICKLE_LENGTHS: Dict[str, Tuple[int, ...]] = {'sdt': (12, 13), 'vega': (7, )}
_FEATURE_FIELDS = (('text', 'videoText'), ('audio', 'videoAudio'), ('visual', 'videoVisual'))


def _accepted() -> str:
    return '12 or 13 items (SDT/MMGCN: IEMOCAP/MELD) or 7 items (VEGA)'


def detect_pickle_format(obj: Any, source: str) -> str:
    """``'sdt'`` or ``'vega'`` from the length of the unpickled tuple."""
    if not isinstance(obj, (tuple, list)):
        raise ValueError(f'{source}: holds a {type(obj).__name__}; expected a tuple of '
                         f'{_accepted()}')
    for fmt, lengths in PICKLE_LENGTHS.items():
        if len(obj) in lengths:
            return fmt
    raise ValueError(f'{source}: holds a tuple of {len(obj)} items; expected {_accepted()}')


def _to_strings(values: Any) -> Optional[List[str]]:
    """Speaker names as ``str`` (Python 2 files may hold bytes), or None if not strings."""
    out = []
    for v in values:
        if isinstance(v, bytes):
            v = v.decode('latin1')
        if isinstance(v, np.str_):
            v = str(v)
        if not isinstance(v, str):
            return None
        out.append(v)
    return out


def _to_matrix(value: Any, n: int, source: str, where: str, name: str) -> np.ndarray:
    """Per-utterance feature vectors -> float32 [L, D]; squeezes a leading singleton."""
    try:
        x = np.asarray(value, dtype=np.float32)
    except (ValueError, TypeError) as e:
        raise ValueError(f'{source}: {where}: {name} is not a numeric array [utterances, dims]'
                         f' ({e})') from e
    if x.ndim == 3 and x.shape[0] == 1:  # [1, L, D] (VEGA's IEMOCAP text)
        x = x[0]
    elif x.ndim == 3 and x.shape[1] == 1:  # L vectors of shape [1, D]
        x = x[:, 0]
    elif x.ndim == 1 and n == 1:
        x = x[None]
    if x.ndim != 2:
        raise ValueError(f'{source}: {where}: {name} has shape {x.shape}; expected '
                         '[utterances, dims]')
    return np.ascontiguousarray(x)


def _to_labels(value: Any, source: str, where: str) -> np.ndarray:
    try:
        y = np.asarray(value)
        if y.dtype.kind not in 'iub' and not (y.dtype.kind == 'f' and np.all(y == np.round(y))):
            raise TypeError(f'dtype {y.dtype}')
    except (ValueError, TypeError) as e:
        raise ValueError(f'{source}: {where}: labels must be integer class indices ({e})') from e
    if y.ndim != 1:
        raise ValueError(f'{source}: {where}: labels has shape {y.shape}; expected [utterances]')
    return y.astype(np.int64)


def _index_names(strings: Dict[str, List[str]]) -> Tuple[Dict[str, np.ndarray],
                                                         Tuple[str, ...], str]:
    """Speaker names -> indices, case- and spacing-insensitively
    (:func:`~.speakers.speaker_key`): IEMOCAP's ``'M'``/``'F'`` in any case are
    M -> 0, F -> 1 (kind ``'MF'``); other names are sorted by their key, each shown in
    its most frequent spelling (kind ``'names'``)."""
    counts: Dict[str, Dict[str, int]] = {}
    for names in strings.values():
        for name in names:
            by_spelling = counts.setdefault(speaker_key(name), {})
            by_spelling[name] = by_spelling.get(name, 0) + 1
    if set(counts) <= {'m', 'f'}:
        keys, speaker_names, kind = ['m', 'f'], ('M', 'F'), 'MF'
    else:
        keys = sorted(counts)
        speaker_names = tuple(min(counts[k], key=lambda s, k=k: (-counts[k][s], s))
                              for k in keys)
        kind = 'names'
    index = {k: i for i, k in enumerate(keys)}
    speakers = {did: np.array([index[speaker_key(s)] for s in names], dtype=np.int64)
                for did, names in strings.items()}
    return speakers, speaker_names, kind


def _one_hot_index(a: np.ndarray, source: str, did: str) -> np.ndarray:
    """The speaker index of each one-hot row of ``a`` [L, S]; a row that is not exactly
    one 1 and zeros (multi-hot, all zeros, NaN, other values) is an error."""
    good = np.all((a == 0) | (a == 1), axis=1) & (np.sum(a == 1, axis=1) == 1)
    bad = np.flatnonzero(~good)
    if len(bad):
        i = int(bad[0])
        raise ValueError(
            f'{source}: dialogue {did!r}: speakers[{i}] (utterance {i}) is '
            f'{np.array2string(a[i], precision=3, threshold=12)}; expected a one-hot vector '
            f'(exactly one 1, the rest 0); {len(bad)} such utterance(s) in this dialogue')
    return a.argmax(axis=1).astype(np.int64)


def _read_speakers(raw: Dict[str, Any], source: str) -> Tuple[Dict[str, np.ndarray], int,
                                                              Optional[Tuple[str, ...]], str]:
    """Speakers of every dialogue -> int64 arrays.

    Returns:
        ``(speakers, num_speakers, speaker_names, kind)``; ``kind`` is ``'MF'`` (IEMOCAP
        'M'/'F' in any case, M -> 0, F -> 1), ``'names'`` (other strings, sorted,
        case-insensitively), ``'onehot'`` (each row exactly one 1; ``num_speakers`` =
        vector length) or ``'index'`` (integers).
    """
    kinds, strings, out = {}, {}, {}
    empty: Dict[str, np.ndarray] = {}
    for did, value in raw.items():
        if hasattr(value, '__len__') and len(value) == 0:  # empty: reported later
            empty[did] = np.zeros(0, dtype=np.int64)
            continue
        names = _to_strings(value) if not isinstance(value, np.ndarray) or \
            value.dtype.kind in 'USO' else None
        if names is not None:
            kinds[did], strings[did] = 'str', names
            continue
        try:
            arr = np.asarray(value, dtype=np.float64)
        except (ValueError, TypeError) as e:
            raise ValueError(f'{source}: dialogue {did!r}: speakers must be names, integer '
                             f'indices or one-hot vectors ({e})') from e
        if arr.ndim == 2:
            kinds[did] = 'onehot'
        elif arr.ndim == 1:
            kinds[did] = 'index'
        else:
            raise ValueError(f'{source}: dialogue {did!r}: speakers has shape {arr.shape}; '
                             'expected names, indices [L] or one-hot vectors [L, S]')
        out[did] = arr
    found = sorted(set(kinds.values()))
    if len(found) > 1:
        first = {k: next(d for d in kinds if kinds[d] == k) for k in found}
        raise ValueError(f'{source}: speakers mix kinds: ' + ', '.join(
            f'{k} (e.g. dialogue {first[k]!r})' for k in found))
    kind = found[0] if found else 'index'
    if kind == 'str':
        speakers, speaker_names, kind = _index_names(strings)
        return {**empty, **speakers}, len(speaker_names), speaker_names, kind
    if kind == 'onehot':
        widths = {did: a.shape[1] for did, a in out.items()}
        width = next(iter(widths.values()))
        for did, w in widths.items():
            if w != width:
                first = next(d for d in widths if widths[d] == width)
                raise ValueError(f'{source}: dialogue {did!r}: speakers are {w}-d one-hot '
                                 f'vectors but {width}-d in dialogue {first!r}')
        speakers = {did: _one_hot_index(a, source, did) for did, a in out.items()}
        return {**empty, **speakers}, int(width), None, kind
    speakers = {}
    for did, a in out.items():
        if len(a) and (np.any(a != np.round(a)) or a.min() < 0):
            raise ValueError(f'{source}: dialogue {did!r}: speakers must be non-negative '
                             'integer indices')
        speakers[did] = a.astype(np.int64)
    top = max((int(a.max()) + 1 for a in speakers.values() if len(a)), default=1)
    return {**empty, **speakers}, top, None, kind


def _split_ids(value: Any, field: str, known: Dict[Any, str], source: str) -> List[str]:
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, '__iter__'):
        raise ValueError(f'{source}: {field} must be a list or set of dialogue ids, got '
                         f'{type(value).__name__}')
    raw = list(value.tolist() if isinstance(value, np.ndarray) else value)
    missing = [k for k in raw if k not in known]
    if missing:
        raise ValueError(f'{source}: {field} names {len(missing)} dialogue(s) not in the data '
                         f'(videoLabels), e.g. {natural_sorted(missing)[:3]}')
    return [known[k] for k in natural_sorted(raw)]


def _fields_and_ids(obj: Any, fmt: str, source: str) -> Tuple[Dict[str, Any], Dict[Any, str]]:
    """The tuple's fields by name, checked to be dicts with an entry for every labelled
    dialogue, and each dialogue key's string id (in the labels' order)."""
    fields = dict(zip(SDT_FIELDS if fmt == 'sdt' else VEGA_FIELDS, obj))
    for name in ('videoSpeakers', 'videoLabels') + tuple(f for _, f in _FEATURE_FIELDS) + \
            (('videoIDs', ) if fmt == 'sdt' else ()):
        if not isinstance(fields[name], Mapping):
            raise ValueError(f'{source}: {name} must be a dict keyed by dialogue id, got '
                             f'{type(fields[name]).__name__}')
    ids: Dict[Any, str] = {}
    for k in fields['videoLabels']:
        did = k.decode('latin1') if isinstance(k, bytes) else str(k)
        if did in ids.values():
            raise ValueError(f'{source}: two dialogues are both named {did!r}')
        ids[k] = did
    for name in ('videoSpeakers', ) + tuple(f for _, f in _FEATURE_FIELDS):
        for k in ids:
            if k not in fields[name]:
                raise ValueError(f'{source}: dialogue {ids[k]!r} has labels but no entry in '
                                 f'{name}')
    return fields, ids


def _dataset_and_classes(kind: str, num_speakers: int, fmt: str, length: int,
                         dataset_name: Optional[str], classes: Optional[Sequence[str]],
                         source: str) -> Tuple[Optional[str], Sequence[str]]:
    """The dataset (given, or told by the speakers or the tuple length) and its classes."""
    if dataset_name is None:
        if kind == 'MF':
            dataset_name = 'iemocap'
        elif kind == 'onehot' and num_speakers == KNOWN_DATASETS['meld']['num_speakers']:
            dataset_name = 'meld'
        elif fmt == 'sdt':
            dataset_name = 'iemocap' if length == 12 else 'meld'
    elif dataset_name not in KNOWN_DATASETS:
        raise ValueError(f'{source}: unknown dataset_name {dataset_name!r}; known: '
                         f'{sorted(KNOWN_DATASETS)}')
    if classes is None:
        if dataset_name is None:
            raise ValueError(f'{source}: this file holds only integer labels and its dataset '
                             'cannot be told from it; pass the class names (classes=[...]) '
                             f'or dataset_name (one of {sorted(KNOWN_DATASETS)})')
        classes = KNOWN_DATASETS[dataset_name]['classes']
    return dataset_name, classes


def _dialogue(fields: Mapping[str, Any], key: Any, did: str, speakers: np.ndarray, fmt: str,
              source: str) -> dict:
    """One raw dialogue: labels, features per modality, speakers, utterance ids."""
    where = f'dialogue {did!r}'
    labels = _to_labels(fields['videoLabels'][key], source, where)
    n = len(labels)
    if n == 0:
        raise ValueError(f'{source}: {where} has no utterances (empty dialogue)')
    feats = {m: _to_matrix(fields[f][key], n, source, where, m) for m, f in _FEATURE_FIELDS}
    item = dict(dialogue_id=did, features=feats, speakers=speakers, labels=labels)
    if fmt == 'sdt' and key in fields['videoIDs']:
        uids = fields['videoIDs'][key]
        uids = uids.tolist() if isinstance(uids, np.ndarray) else list(uids)
        item['utterance_ids'] = [u.decode('latin1') if isinstance(u, bytes) else str(u)
                                 for u in uids]
    return item


def read_pickle_conversations(obj: Any,
                              source: str,
                              data_format: str = 'auto',
                              classes: Optional[Sequence[str]] = None,
                              dataset_name: Optional[str] = None,
                              val_ratio: float = 0.1,
                              val_seed: int = 0) -> ConversationCollection:
    """Turn an unpickled SDT/MMGCN or VEGA tuple into a validated collection.

    Args:
        obj: the unpickled object.
        source: the file name, for messages.
        data_format: ``'auto'``, ``'sdt'`` or ``'vega'``.
        classes: class names; default: those of ``dataset_name``.
        dataset_name: ``'iemocap'`` or ``'meld'``; default: guessed from the speakers
            ('M'/'F' -> IEMOCAP, one-hot -> MELD) or else from the tuple length
            (12 -> IEMOCAP, 13 -> MELD).
        val_ratio, val_seed: the validation split carved from ``trainVid``
            (see :func:`make_val_split`).
    """
    fmt = detect_pickle_format(obj, source)
    if data_format not in ('auto', fmt):
        raise ValueError(f'{source}: data_format={data_format!r} accepts tuples of '
                         f'{" or ".join(map(str, PICKLE_LENGTHS[data_format]))} items, but '
                         f'this file holds {len(obj)} ({fmt} format?)')
    fields, ids = _fields_and_ids(obj, fmt, source)
    keys = list(ids)
    speakers, num_speakers, speaker_names, kind = _read_speakers(
        {ids[k]: fields['videoSpeakers'][k] for k in keys}, source)
    dataset_name, classes = _dataset_and_classes(kind, num_speakers, fmt, len(obj),
                                                 dataset_name, classes, source)
    if kind == 'index' and dataset_name is not None:
        num_speakers = max(num_speakers, KNOWN_DATASETS[dataset_name]['num_speakers'])
    dialogues = [_dialogue(fields, k, ids[k], speakers[ids[k]], fmt, source) for k in keys]
    train = _split_ids(fields['trainVid'], 'trainVid', ids, source)
    test = _split_ids(fields['testVid'], 'testVid', ids, source)
    both = [i for i in train if i in set(test)]
    if both:
        raise ValueError(f'{source}: dialogue {both[0]!r} is in both trainVid and testVid '
                         f'({len(both)} such dialogue(s))')
    train, val = make_val_split(train, val_ratio, val_seed)
    coll = ConversationCollection(
        dialogues=dialogues,
        splits=dict(train=train, val=val, test=test),
        classes=tuple(classes),
        modalities=tuple(m for m, _ in _FEATURE_FIELDS),
        feature_dims={},
        num_speakers=num_speakers,
        speaker_names=speaker_names,
        source=source,
        data_format=fmt,
        extra=dict(dataset=dataset_name, val_ratio=val_ratio, val_seed=val_seed))
    return validate_collection(coll)

"""vega_mm's own feature file: one ``.npz`` holding plain arrays and a JSON index.

Keys (see ``docs/internals.md``): ``feat_<modality>`` float32 [N, D] (all utterances of
all dialogues, concatenated), ``speakers`` int64 [N], ``labels`` int64 [N] (-1 =
unlabelled), ``offsets`` int64 [n_dialogues + 1] (dialogue i is rows
``offsets[i]:offsets[i+1]``) and ``meta``, a 0-d string array holding the JSON index;
optionally ``sentiments`` int64 [N] (index into ``meta['sentiments']``, -1 = unknown),
written when every dialogue carries sentiments (files without it still load).
It is read with ``allow_pickle=False``: loading it never runs code.
"""
import json
import os
import zipfile
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from vega_mm.structures.meta import MODALITIES, SENTIMENTS, SPLITS
from vega_mm.utils.io import atomic_savez
from .collection import ConversationCollection, validate_collection

__all__ = ['save_native', 'load_native', 'NATIVE_FORMAT', 'NATIVE_VERSION']

NATIVE_FORMAT = 'vega_mm.conversations'
NATIVE_VERSION = 1


def _coerce(d: dict) -> dict:
    """Shallow copy with numeric arrays in the contract's dtypes (float32 / int64)."""
    d = dict(d)
    if isinstance(d.get('features'), Mapping):
        d['features'] = {
            m: np.asarray(x, dtype=np.float32) if np.asarray(x).dtype.kind in 'fiu' else x
            for m, x in d['features'].items()}
    for key in ('speakers', 'labels', 'sentiments'):
        if key in d and np.asarray(d[key]).dtype.kind in 'iu':
            d[key] = np.asarray(d[key], dtype=np.int64)
    return d


def save_native(path: str,
                dialogues: Sequence[dict],
                classes: Sequence[str],
                splits: Mapping[str, Sequence[str]],
                speaker_names: Optional[Sequence[str]] = None,
                extra: Optional[Mapping[str, Any]] = None,
                num_speakers: Optional[int] = None) -> str:
    """Write dialogues to a native ``.npz`` file, atomically.

    The file is written to a temporary file in the same folder and renamed over
    ``path``, so a reader never sees a half-written file and a failed write leaves any
    previous file intact. Everything is validated first.

    Args:
        path: output file (conventionally ``*.npz``; the name is kept as given).
        dialogues: raw dialogue dicts (``docs/internals.md``), all with the same
            modalities; ``sentiments`` (int64 [L]) in all of them or in none.
        classes: class names.
        splits: ``{'train': [...], 'val': [...], 'test': [...]}`` dialogue ids (a
            missing split is written as empty).
        speaker_names: names of the speaker indices, or None.
        extra: JSON-serialisable information to keep with the file.
        num_speakers: default ``len(speaker_names)`` or the largest index + 1.

    Returns:
        ``path``.
    """
    path = os.fspath(path)
    dialogues = [_coerce(d) for d in dialogues]
    if not dialogues:
        raise ValueError(f'{path}: no dialogues to write')
    modalities = tuple(m for m in ('text', 'audio', 'visual')
                       if m in dialogues[0].get('features', {}))
    if num_speakers is None:
        num_speakers = len(speaker_names) if speaker_names is not None else 1 + max(
            int(np.max(d['speakers'])) if len(d['speakers']) else 0 for d in dialogues)
    coll = validate_collection(ConversationCollection(
        dialogues=dialogues,
        splits={s: [str(i) for i in splits.get(s, ())] for s in SPLITS},
        classes=tuple(classes),
        modalities=modalities,
        feature_dims={},
        num_speakers=int(num_speakers),
        speaker_names=None if speaker_names is None else tuple(speaker_names),
        source=path))
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise ValueError(f'{path}: unknown split(s) {unknown}; expected {SPLITS}')
    with_sentiments = _all_or_none_sentiments(path, dialogues)
    uids = [d.get('utterance_ids') for d in dialogues]
    meta = dict(
        format=NATIVE_FORMAT,
        version=NATIVE_VERSION,
        classes=list(coll.classes),
        modalities=list(modalities),
        dialogue_ids=[d['dialogue_id'] for d in dialogues],
        splits=coll.splits,
        speaker_names=None if speaker_names is None else [str(s) for s in speaker_names],
        num_speakers=int(num_speakers),
        utterance_ids=None if all(u is None for u in uids) else
        [None if u is None else [str(x) for x in u] for u in uids],
        extra=dict(extra or {}))
    if with_sentiments:
        meta['sentiments'] = list(SENTIMENTS)
    try:
        meta_json = json.dumps(meta)
    except (TypeError, ValueError) as e:
        raise ValueError(f'{path}: extra must be JSON-serialisable ({e})') from e
    arrays = _native_arrays(dialogues, modalities, with_sentiments)
    arrays['meta'] = np.array(meta_json)
    atomic_savez(path, arrays)
    return path


def _all_or_none_sentiments(path: str, dialogues: Sequence[dict]) -> bool:
    """Whether the dialogues carry sentiments; refuses a mix."""
    with_sentiments = [d.get('sentiments') is not None for d in dialogues]
    if any(with_sentiments) and not all(with_sentiments):
        missing = dialogues[with_sentiments.index(False)]['dialogue_id']
        raise ValueError(f'{path}: some dialogues carry sentiments and some not (e.g. '
                         f'{missing!r}); expected sentiments in all of them or none')
    return all(with_sentiments)


def _native_arrays(dialogues: Sequence[dict], modalities: Sequence[str],
                   with_sentiments: bool) -> Dict[str, np.ndarray]:
    """The arrays of a native file (all but ``meta``): the dialogues concatenated."""
    lengths = [len(d['labels']) for d in dialogues]
    arrays: Dict[str, np.ndarray] = {
        f'feat_{m}': np.concatenate([d['features'][m] for d in dialogues]).astype(np.float32)
        for m in modalities
    }
    arrays['speakers'] = np.concatenate([d['speakers'] for d in dialogues]).astype(np.int64)
    arrays['labels'] = np.concatenate([d['labels'] for d in dialogues]).astype(np.int64)
    arrays['offsets'] = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    if with_sentiments:
        arrays['sentiments'] = np.concatenate([d['sentiments'] for d in dialogues]
                                              ).astype(np.int64)
    return arrays


def _is_list_of(value: Any, kinds: tuple) -> bool:
    return isinstance(value, list) and all(
        isinstance(v, kinds) and not isinstance(v, bool) for v in value)


# meta key -> (check, what it must be); keys marked optional may also be null/absent
_META_TYPES = {
    'classes': (lambda v: _is_list_of(v, (str, )) and len(v) > 0,
                'a non-empty list of class names'),
    'modalities': (lambda v: _is_list_of(v, (str, )) and set(v) <= set(MODALITIES),
                   f'a list of modality names from {list(MODALITIES)}'),
    'dialogue_ids': (lambda v: _is_list_of(v, (str, int)), 'a list of dialogue ids'),
    'splits': (lambda v: isinstance(v, dict) and all(
        isinstance(k, str) and _is_list_of(x, (str, int)) for k, x in v.items()),
        'a dict split -> list of dialogue ids'),
    'num_speakers': (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                     'an integer >= 1'),
}
_OPTIONAL_META_TYPES = {
    'version': (lambda v: isinstance(v, int) and not isinstance(v, bool), 'an integer'),
    'speaker_names': (lambda v: _is_list_of(v, (str, )), 'a list of names'),
    'utterance_ids': (lambda v: isinstance(v, list) and all(
        u is None or _is_list_of(u, (str, int)) for u in v),
        'a list (one entry per dialogue) of lists of ids'),
    'extra': (lambda v: isinstance(v, dict), 'a dict'),
    'sentiments': (lambda v: v == list(SENTIMENTS), f'the sentiment names {list(SENTIMENTS)}'),
}


def _check_meta_types(meta: Dict[str, Any], path: str) -> None:
    """Every key of the JSON index has the type the format says (a string where a list
    is expected would otherwise be read as a list of characters)."""
    for key, (ok, what) in _META_TYPES.items():
        if key not in meta:
            raise ValueError(f'{path}: meta has no {key!r}')
        if not ok(meta[key]):
            raise ValueError(f'{path}: meta {key!r} must be {what}, got '
                             f'{type(meta[key]).__name__} {str(meta[key])[:80]!r}')
    for key, (ok, what) in _OPTIONAL_META_TYPES.items():
        if meta.get(key) is not None and not ok(meta[key]):
            raise ValueError(f'{path}: meta {key!r} must be {what} or null, got '
                             f'{type(meta[key]).__name__} {str(meta[key])[:80]!r}')
    uids = meta.get('utterance_ids')
    if uids is not None and len(uids) != len(meta['dialogue_ids']):
        raise ValueError(f"{path}: meta 'utterance_ids' has {len(uids)} entries for "
                         f"{len(meta['dialogue_ids'])} dialogues")


def _read_native(path: str):
    """The arrays and the checked JSON index of a native file."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        raise ValueError(f'{path}: not a readable vega_mm .npz feature file ({e})') from e
    for key in ('meta', 'offsets', 'speakers', 'labels'):
        if key not in arrays:
            raise ValueError(f'{path}: no {key!r} array; not a vega_mm feature file '
                             f'(keys: {sorted(arrays)})')
    try:
        meta = json.loads(str(arrays['meta'][()]))
    except (ValueError, TypeError) as e:
        raise ValueError(f'{path}: meta is not a JSON index ({e})') from e
    if not isinstance(meta, dict) or meta.get('format') != NATIVE_FORMAT:
        raise ValueError(f'{path}: meta format is not {NATIVE_FORMAT!r}')
    _check_meta_types(meta, path)
    if (meta.get('version') or 0) > NATIVE_VERSION:
        raise ValueError(f'{path}: format version {meta["version"]} is newer than this '
                         f'vega_mm reads ({NATIVE_VERSION}); update vega_mm')
    return arrays, meta


def load_native(path: str) -> ConversationCollection:
    """Read a native ``.npz`` file (with ``allow_pickle=False``) and validate it.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: naming the file and what is wrong with it.
    """
    path = os.fspath(path)
    arrays, meta = _read_native(path)
    offsets, speakers, labels = arrays['offsets'], arrays['speakers'], arrays['labels']
    if offsets.ndim != 1 or offsets.dtype.kind not in 'iu':
        raise ValueError(f'{path}: offsets must be a 1-d integer array, got '
                         f'{offsets.dtype} of shape {offsets.shape}')
    # Files from other writers may use narrower integer types; the contract is int64.
    if speakers.dtype.kind in 'iu':
        speakers = speakers.astype(np.int64, copy=False)
    if labels.dtype.kind in 'iu':
        labels = labels.astype(np.int64, copy=False)
    ids = [str(i) for i in meta['dialogue_ids']]
    n = int(offsets[-1]) if len(offsets) else 0
    if offsets.ndim != 1 or len(offsets) != len(ids) + 1 or offsets[0] != 0 or \
            np.any(np.diff(offsets) < 0):
        raise ValueError(f'{path}: offsets must rise from 0 with one entry per dialogue + 1 '
                         f'({len(ids) + 1}), got shape {offsets.shape}')
    for key in ['speakers', 'labels'] + [f'feat_{m}' for m in meta['modalities']]:
        if key not in arrays:
            raise ValueError(f'{path}: no {key!r} array although meta lists the modality')
        if len(arrays[key]) != n:
            raise ValueError(f'{path}: {key} has {len(arrays[key])} rows but offsets end at '
                             f'{n}')
    sentiments = arrays.get('sentiments')
    if sentiments is not None:
        if sentiments.ndim != 1 or sentiments.dtype.kind not in 'iu' or len(sentiments) != n:
            raise ValueError(f'{path}: sentiments must be an integer array [{n}] (one per '
                             f'utterance), got {sentiments.dtype} of shape {sentiments.shape}')
        sentiments = sentiments.astype(np.int64, copy=False)
    uids = meta.get('utterance_ids')
    dialogues = []
    for i, did in enumerate(ids):
        a, b = int(offsets[i]), int(offsets[i + 1])
        item = dict(
            dialogue_id=did,
            features={m: arrays[f'feat_{m}'][a:b] for m in meta['modalities']},
            speakers=speakers[a:b],
            labels=labels[a:b])
        if uids is not None and uids[i] is not None:
            item['utterance_ids'] = [str(u) for u in uids[i]]
        if sentiments is not None:
            item['sentiments'] = sentiments[a:b]
        dialogues.append(item)
    names = meta.get('speaker_names')
    splits = {s: [str(x) for x in v] for s, v in meta['splits'].items()}
    return validate_collection(ConversationCollection(
        dialogues=dialogues,
        splits=splits,
        classes=tuple(meta['classes']),
        modalities=tuple(meta['modalities']),
        feature_dims={},
        num_speakers=int(meta['num_speakers']),
        speaker_names=None if names is None else tuple(names),
        source=path,
        data_format='native',
        extra=dict(meta.get('extra') or {})))

"""Tiny feature files in the public formats, shared by the test suites.

``make_sdt_pickle`` and ``make_vega_pickle`` write small files laid out like the public
SDT/MMGCN and VEGA pickles (IEMOCAP or MELD flavour). Features carry a class signal
(class mean + noise), so a short training run on them can learn something.
"""
import os
import pickle
from collections import OrderedDict
from typing import Any, Dict, Sequence

import numpy as np

__all__ = ['make_sdt_pickle', 'make_vega_pickle', 'sdt_items', 'vega_items', 'write_pickle',
           'NUM_CLASSES']

NUM_CLASSES = dict(iemocap=6, meld=7)
_NUM_SPEAKERS = dict(iemocap=2, meld=9)


def _dialogues(dataset: str, num_train: int, num_test: int, dims: Sequence[int],
               seed: int) -> Dict[str, Any]:
    if dataset not in NUM_CLASSES:
        raise ValueError(f"dataset must be 'iemocap' or 'meld', got {dataset!r}")
    rng = np.random.default_rng(seed)
    num_classes = NUM_CLASSES[dataset]
    protos = [rng.standard_normal((num_classes, d)) for d in dims]
    if dataset == 'iemocap':
        train = [f'Ses0{1 + k % 4}F_impro{k:02d}' for k in range(num_train)]
        test = [f'Ses05M_script{k:02d}' for k in range(num_test)]
    else:
        train = list(range(num_train))
        test = list(range(num_train, num_train + num_test))
    out = OrderedDict()
    for did in train + test:
        n = int(rng.integers(4, 11))
        labels = rng.integers(0, num_classes, size=n)
        speakers = rng.integers(0, _NUM_SPEAKERS[dataset], size=n)
        feats = [(p[labels] + rng.standard_normal((n, p.shape[1]))).astype(np.float32)
                 for p in protos]
        out[did] = dict(labels=labels, speakers=speakers, feats=feats)
    return dict(dialogues=out, train=train, test=test)


def _speakers(dataset: str, speakers: np.ndarray) -> list:
    if dataset == 'iemocap':
        return ['MF'[s] for s in speakers]
    return [[1 if j == s else 0 for j in range(9)] for s in speakers]


def sdt_items(dataset: str = 'iemocap',
              num_train: int = 12,
              num_test: int = 6,
              dims: Sequence[int] = (32, 16, 8),
              seed: int = 0) -> 'OrderedDict[str, Any]':
    """The items of an SDT/MMGCN pickle (12 for IEMOCAP, 13 for MELD), by field name.

    Text is a list of per-utterance vectors, audio an array [L, Da], visual nested
    Python lists (all three layouts occur in the public files); ``trainVid`` is a list
    and ``testVid`` a set.
    """
    spec = _dialogues(dataset, num_train, num_test, dims, seed)
    d = spec['dialogues']
    items: 'OrderedDict[str, Any]' = OrderedDict()
    utt = {k: [f'{k}_{"MF"[s % 2]}{i:03d}' for i, s in enumerate(v['speakers'])]
           for k, v in d.items()}
    items['videoIDs'] = utt if dataset == 'iemocap' else {
        k: list(range(len(v['labels']))) for k, v in d.items()}
    items['videoSpeakers'] = {k: _speakers(dataset, v['speakers']) for k, v in d.items()}
    items['videoLabels'] = {k: v['labels'].tolist() for k, v in d.items()}
    items['videoText'] = {k: list(v['feats'][0]) for k, v in d.items()}
    for name in ('roberta2', 'roberta3', 'roberta4'):
        items[name] = {k: list(v['feats'][0]) for k, v in d.items()}
    items['videoAudio'] = {k: v['feats'][1].astype(np.float64) for k, v in d.items()}
    items['videoVisual'] = {k: v['feats'][2].tolist() for k, v in d.items()}
    items['videoSentence'] = {k: [f'utterance {i}' for i in range(len(v['labels']))]
                              for k, v in d.items()}
    items['trainVid'] = list(spec['train'])
    items['testVid'] = set(spec['test'])
    if dataset == 'meld':
        items['unused'] = []
    return items


def vega_items(dataset: str = 'iemocap',
               num_train: int = 12,
               num_test: int = 6,
               dims: Sequence[int] = (32, 16, 8),
               seed: int = 0) -> 'OrderedDict[str, Any]':
    """The 7 items of a VEGA pickle, by field name (IEMOCAP text as [1, L, D])."""
    spec = _dialogues(dataset, num_train, num_test, dims, seed)
    d = spec['dialogues']
    items: 'OrderedDict[str, Any]' = OrderedDict()
    items['videoSpeakers'] = {k: _speakers(dataset, v['speakers']) for k, v in d.items()}
    items['videoLabels'] = {k: v['labels'].tolist() for k, v in d.items()}
    items['videoText'] = {
        k: v['feats'][0][None] if dataset == 'iemocap' else v['feats'][0]
        for k, v in d.items()}
    items['videoAudio'] = {k: v['feats'][1] for k, v in d.items()}
    items['videoVisual'] = {k: v['feats'][2] for k, v in d.items()}
    items['trainVid'] = list(spec['train'])
    items['testVid'] = list(spec['test'])
    return items


def write_pickle(path: str, items: Any, protocol: int = 2) -> str:
    """Pickle ``items`` (a dict of fields is written as the tuple of its values)."""
    obj = tuple(items.values()) if isinstance(items, dict) else items
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=protocol)
    return os.fspath(path)


def make_sdt_pickle(path: str,
                    dataset: str = 'iemocap',
                    num_train: int = 12,
                    num_test: int = 6,
                    dims: Sequence[int] = (32, 16, 8),
                    seed: int = 0) -> str:
    """Write a small SDT/MMGCN-style pickle (protocol 2, like the Python 2 originals).

    Args:
        path: output file.
        dataset: ``'iemocap'`` (12 items, 'M'/'F' speakers, 6 classes) or ``'meld'``
            (13 items, 9-d one-hot speakers, 7 classes, integer dialogue ids).
        num_train, num_test: dialogues per split (4-10 utterances each).
        dims: (text, audio, visual) feature dimensions.
        seed: the seed.

    Returns:
        ``path``.
    """
    return write_pickle(path, sdt_items(dataset, num_train, num_test, dims, seed), 2)


def make_vega_pickle(path: str,
                     dataset: str = 'iemocap',
                     num_train: int = 12,
                     num_test: int = 6,
                     dims: Sequence[int] = (32, 16, 8),
                     seed: int = 0) -> str:
    """Write a small VEGA-style pickle (7 items, protocol 4). Arguments as
    :func:`make_sdt_pickle`; IEMOCAP text carries a leading singleton dimension."""
    return write_pickle(path, vega_items(dataset, num_train, num_test, dims, seed), 4)

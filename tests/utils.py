"""Tiny data files and models, shared by the test suites.

``make_sdt_pickle`` and ``make_vega_pickle`` write small files laid out like the public
SDT/MMGCN and VEGA pickles (IEMOCAP or MELD flavour). Features carry a class signal
(class mean + noise), so a short training run on them can learn something.

``save_tiny_text_model`` writes a tiny random BERT as a local model folder and
``write_meld_like_table`` a synthetic conversation table in MELD's CSV layout, so that
text feature extraction and inference run without downloads or real data.
"""
import csv
import os
import pickle
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, Sequence

import numpy as np

__all__ = ['make_sdt_pickle', 'make_vega_pickle', 'sdt_items', 'vega_items', 'write_pickle',
           'NUM_CLASSES', 'save_tiny_text_model', 'write_meld_like_table', 'MELD_HEADER']

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


TINY_VOCAB = (['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'] + list('abcdefghijklmnopqrstuvwxyz')
              + list('0123456789') + ['the', 'you', 'oh', 'my', 'god', 'what', 'no', 'yes',
                                      'i', '?', '!', '.', ',', "'", '’', '-', '…'])


def save_tiny_text_model(path: Path) -> str:
    """Save a randomly initialised 1-layer BERT (hidden 16) and its WordPiece tokenizer
    into the folder ``path`` with ``save_pretrained``, like a real local model folder.

    Returns:
        ``path`` as a string.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    (path / 'vocab.txt').write_text('\n'.join(TINY_VOCAB) + '\n', encoding='utf-8')
    tokenizer = BertTokenizer(str(path / 'vocab.txt'))
    torch.manual_seed(0)
    model = BertModel(BertConfig(vocab_size=len(TINY_VOCAB), hidden_size=16,
                                 num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=128))
    model.save_pretrained(str(path))
    tokenizer.save_pretrained(str(path))
    return str(path)


MELD_HEADER = ('Sr No.', 'Utterance', 'Speaker', 'Emotion', 'Sentiment', 'Dialogue_ID',
               'Utterance_ID', 'Season', 'Episode', 'StartTime', 'EndTime')
_MELD_EMOTIONS = ('neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust', 'anger')
_SPEAKERS = ('Ross', 'Rachel', 'Monica', 'Chandler', 'Joey', 'Phoebe', 'Gunther')
_SPEAKER_P = np.array([6, 6, 4, 4, 4, 3, 1], dtype=float) / 28
# words the tiny tokenizer knows, so that utterances get distinct features
_WORDS = ('the', 'you', 'oh', 'my', 'god', 'what', 'no', 'yes', 'i', 'a', 'x', 'o')
_ENDS = ('?', '!', '.', '…', ', no.', '’s it', ' - yes')


def meld_sentiment(emotion: str, serial: int) -> str:
    """The sentiment MELD's annotations give an emotion (surprise is either: negative
    on odd rows, positive on even ones)."""
    if emotion == 'surprise':
        return 'negative' if serial % 2 else 'positive'
    return {'neutral': 'neutral', 'joy': 'positive'}.get(emotion, 'negative')


def write_meld_like_table(path: Path, dialogues: int, seed: int = 0,
                          min_len: int = 3, max_len: int = 9) -> Path:
    """Write a synthetic conversation table in the layout of MELD's ``*_sent_emo.csv``
    (its header, 0-based dialogue and utterance ids, episode times).

    Each dialogue has ``min_len``..``max_len`` utterances by 2-4 of seven speakers
    (Ross and Rachel the most frequent, Gunther rare), with texts of words the tiny
    tokenizer of :func:`save_tiny_text_model` knows, commas, quotes and non-ASCII
    punctuation, MELD emotion labels and their sentiments (:func:`meld_sentiment`).
    Dialogue 0 has ``max_len`` utterances.

    Returns:
        ``path``.
    """
    rng = np.random.default_rng(seed)
    rows, serial = [], 1
    for did in range(dialogues):
        n = max_len if did == 0 else int(rng.integers(min_len, max_len + 1))
        cast = [_SPEAKERS[i] for i in sorted(rng.choice(len(_SPEAKERS), size=int(
            rng.integers(2, 5)), replace=False, p=_SPEAKER_P))]
        for uid in range(n):
            words = rng.choice(_WORDS, size=int(rng.integers(1, 6)))
            text = ' '.join(words).capitalize() + _ENDS[int(rng.integers(len(_ENDS)))]
            if rng.random() < 0.2:
                text = f'"{text}"'
            emotion = _MELD_EMOTIONS[int(rng.integers(len(_MELD_EMOTIONS)))]
            start = 10 * serial
            rows.append([serial, text, cast[int(rng.integers(len(cast)))], emotion,
                         meld_sentiment(emotion, serial), did, uid, 1, 1 + did % 3,
                         f'00:00:{start % 60:02d},000',
                         f'00:00:{(start + 3) % 60:02d},500'])
            serial += 1
    with open(path, 'w', encoding='utf-8', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(MELD_HEADER)
        writer.writerows(rows)
    return Path(path)


"""Synthetic conversations: the embedded default data of the demo and the tests.

The generator is built so that a model has to use the conversation context *and* more
than one modality to do well, like on IEMOCAP, while it runs in seconds on a CPU.

Generative process (classes in IEMOCAP order: happy, sad, neutral, anger, excited,
frustration):

1. *Geometry* (from ``default_rng([seed, 1000, modality])``, shared by all
   splits): per modality, one random unit direction per modality-level cluster,
   where each modality sees only a partial view of the class: text tells sentiment
   (happy = excited, anger = frustration), audio tells arousal (anger = excited,
   happy = frustration, sad = neutral), visual tells the face (happy = excited,
   neutral = frustration). Only all three modalities together separate every class.
   Also per modality two sets of six class directions, ``prev`` and ``next``.
2. *Dialogue* (split ``k`` of ``('train', 'val', 'test')`` draws its labels from
   ``default_rng([seed, k])`` and the features of each modality from
   ``default_rng([seed, k, 1 + modality])``, so each split is independent of the
   others' sizes, and one modality of the others'):
   length uniform in ``[min_len, max_len]``; speaker 0 or 1 starts and the turn
   passes to the other with probability 0.8.
3. *Labels*: each speaker holds an emotion, first drawn from a mildly imbalanced
   prior (like IEMOCAP: frustration and neutral most frequent, happy least); at each
   of their turns they keep it with probability 0.7, else redraw it from the prior
   (emotion runs per speaker, so context predicts the label).
4. *Features* of utterance ``i`` with label ``y_i``, per modality:
   ``1.2 (text) or 1.0 * cluster_direction(y_i) + 0.9 * prev[y_{i-1}] +
   0.9 * next[y_{i+1}] + speaker_offset + noise``, with a per-dialogue speaker
   offset ~ N(0, 0.5^2) and noise ~ N(0, 1) per dimension. So part of the evidence
   about ``y_i`` sits in the features of utterances ``i + 1`` and ``i - 1``.

With the defaults a logistic regression on one utterance reaches about 31-41% test
accuracy with one modality, about 52-55% with all three, and about 73% when it also
sees the neighbouring utterances' features (majority class: about 21-24%).
"""
from typing import Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from vega_mm.registry import DATASETS
from vega_mm.structures.meta import IEMOCAP_CLASSES, SPLITS
from .conversation_dataset import ConversationDataset
from .formats import ConversationCollection, validate_collection

__all__ = ['make_synthetic_conversations', 'SyntheticConversationDataset',
           'random_dialogue_batch', 'SYNTHETIC_FEATURE_DIMS', 'SYNTHETIC_NUM_DIALOGUES']

#: Default feature dimension per modality.
SYNTHETIC_FEATURE_DIMS: Dict[str, int] = dict(text=100, audio=60, visual=40)
#: Default number of dialogues per split (train, val, test).
SYNTHETIC_NUM_DIALOGUES = (200, 40, 60)

# Mildly imbalanced class prior (IEMOCAP order: happy, sad, neutral, anger, excited,
# frustration), shaped like IEMOCAP's label counts.
_PRIOR = np.array([0.10, 0.15, 0.22, 0.15, 0.14, 0.24])
# What each modality can see: class -> modality-level cluster. Text tells sentiment
# (happy = excited, anger = frustration), audio tells arousal (high: anger, excited;
# mid: happy, frustration; low: sad, neutral), the face tells smile / sad / angry /
# neutral (neutral = frustration). Only the three together identify every class.
_VIEWS: Dict[str, Sequence[int]] = dict(
    text=(0, 1, 2, 3, 0, 3), audio=(1, 2, 2, 0, 0, 1), visual=(0, 1, 3, 2, 0, 3))
_SIGNAL = dict(text=1.2, audio=1.0, visual=1.0)  # norm of the own-utterance evidence
_CONTEXT = 0.9  # norm of the evidence about a neighbour's class
_SPEAKER_OFFSET = 0.5  # std of a per-dialogue, per-speaker offset (nuisance)
_NOISE = 1.0  # std of the per-utterance, per-dimension noise
_KEEP = 0.7  # probability that a speaker keeps their emotion at their next turn
_SWITCH = 0.8  # probability that the turn passes to the other speaker
_WORLD_STREAM = 1000  # seed stream of the class geometry (shared by all splits)
_MODALITY_STREAM = dict(text=0, audio=1, visual=2)


def _split_sizes(num_dialogues: Union[int, Sequence[int], Mapping[str, int]]
                 ) -> Dict[str, int]:
    if isinstance(num_dialogues, Mapping):
        sizes = {s: int(num_dialogues.get(s, 0)) for s in SPLITS}
    elif isinstance(num_dialogues, (int, np.integer)):
        n = int(num_dialogues)
        sizes = dict(train=n, val=max(1, round(n * 0.2)), test=max(1, round(n * 0.3)))
    else:
        if len(num_dialogues) != 3:
            raise ValueError('num_dialogues must be an int, (train, val, test) or a dict, '
                             f'got {num_dialogues!r}')
        sizes = dict(zip(SPLITS, (int(n) for n in num_dialogues)))
    if any(n < 0 for n in sizes.values()):
        raise ValueError(f'num_dialogues must be non-negative, got {sizes}')
    return sizes


def _unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    v = rng.standard_normal((n, dim))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _geometry(seed: int, modality: str, dim: int) -> Dict[str, np.ndarray]:
    """The class directions of one modality: ``own`` (its view of each class), ``prev``
    and ``next`` (evidence about the neighbours' classes)."""
    # One stream per modality: a modality's geometry and noise do not depend on which
    # other modalities are generated or on their dimensions.
    world = np.random.default_rng([seed, _WORLD_STREAM, _MODALITY_STREAM[modality]])
    clusters = _unit_rows(world, max(_VIEWS[modality]) + 1, dim)
    return dict(own=clusters[list(_VIEWS[modality])] * _SIGNAL[modality],
                prev=_unit_rows(world, len(_PRIOR), dim) * _CONTEXT,
                next=_unit_rows(world, len(_PRIOR), dim) * _CONTEXT)


def _split_dialogues(rng: np.random.Generator, split: str, count: int, min_len: int,
                     max_len: int) -> List[dict]:
    """The speakers and labels of one split's dialogues (features added later)."""
    width = max(4, len(str(count - 1)))  # fixed: ids do not depend on the size
    dialogues = []
    for j in range(count):
        n = int(rng.integers(min_len, max_len + 1))
        speakers = np.empty(n, dtype=np.int64)
        speakers[0] = rng.integers(2)
        for i in range(1, n):
            speakers[i] = 1 - speakers[i - 1] if rng.random() < _SWITCH else speakers[i - 1]
        state = rng.choice(len(_PRIOR), size=2, p=_PRIOR)
        labels = np.empty(n, dtype=np.int64)
        for i in range(n):
            if i > 0 and rng.random() > _KEEP:
                state[speakers[i]] = rng.choice(len(_PRIOR), p=_PRIOR)
            labels[i] = state[speakers[i]]
        dialogues.append(dict(dialogue_id=f'{split}_{j:0{width}d}', features={},
                              speakers=speakers, labels=labels))
    return dialogues


def _add_features(dialogues: List[dict], modality: str, geometry: Dict[str, np.ndarray],
                  noise: np.random.Generator) -> None:
    """Draw one modality's features of ``dialogues`` (in place)."""
    dim = geometry['own'].shape[1]
    for d in dialogues:
        labels, n = d['labels'], len(d['labels'])
        x = geometry['own'][labels].copy()
        x[1:] += geometry['prev'][labels[:-1]]
        x[:-1] += geometry['next'][labels[1:]]
        x += noise.standard_normal((2, dim))[d['speakers']] * _SPEAKER_OFFSET
        x += noise.standard_normal((n, dim)) * _NOISE
        d['features'][modality] = x.astype(np.float32)


def make_synthetic_conversations(
        num_dialogues: Union[int, Sequence[int], Mapping[str, int]] = SYNTHETIC_NUM_DIALOGUES,
        feature_dims: Optional[Mapping[str, int]] = None,
        min_len: int = 8,
        max_len: int = 24,
        seed: int = 0,
        splits: Sequence[str] = SPLITS) -> ConversationCollection:
    """Generate two-speaker emotional conversations with three feature modalities.

    The generative process is described in the module docstring.

    Args:
        num_dialogues: ``(train, val, test)`` counts, a dict, or an int ``n`` for
            ``(n, round(0.2 n), round(0.3 n))``.
        feature_dims: modality -> dimension; default ``text=100, audio=60, visual=40``.
            Modalities left out are not generated.
        min_len, max_len: dialogue length range (inclusive).
        seed: the seed; the result is a deterministic function of all arguments.
        splits: the splits to generate (others are left empty).

    Returns:
        A :class:`ConversationCollection` like :func:`load_conversations` returns
        (dialogue ids ``'<split>_<kkkk>'``, 2 speakers, 6 classes).
    """
    dims = dict(SYNTHETIC_FEATURE_DIMS if feature_dims is None else feature_dims)
    unknown = [m for m in dims if m not in _VIEWS]
    if unknown or not dims:
        raise ValueError(f'feature_dims must name modalities from {tuple(_VIEWS)}, got '
                         f'{list(dims)}')
    if not 1 <= min_len <= max_len:
        raise ValueError(f'need 1 <= min_len <= max_len, got {min_len}, {max_len}')
    sizes = _split_sizes(num_dialogues)
    modalities = tuple(m for m in _VIEWS if m in dims)
    geometry = {m: _geometry(seed, m, int(dims[m])) for m in modalities}
    dialogues, split_ids = [], {}
    for k, split in enumerate(SPLITS):
        split_ids[split] = []
        if split not in splits:
            continue
        new = _split_dialogues(np.random.default_rng([seed, k]), split, sizes[split],
                               min_len, max_len)
        for m in modalities:
            _add_features(new, m, geometry[m],
                          np.random.default_rng([seed, k, 1 + _MODALITY_STREAM[m]]))
        dialogues += new
        split_ids[split] = [d['dialogue_id'] for d in new]
    if not dialogues:
        raise ValueError(f'no dialogues to generate (num_dialogues={sizes}, splits={splits})')
    return validate_collection(
        ConversationCollection(
            dialogues=dialogues,
            splits=split_ids,
            classes=IEMOCAP_CLASSES,
            modalities=modalities,
            feature_dims={},
            num_speakers=2,
            speaker_names=None,
            source='synthetic',
            data_format='synthetic',
            extra=dict(generator='vega_mm.datasets.synthetic', seed=seed,
                       num_dialogues=[sizes[s] for s in SPLITS], feature_dims=dims,
                       min_len=min_len, max_len=max_len)))


@DATASETS.register_module()
class SyntheticConversationDataset(ConversationDataset):
    """One split of :func:`make_synthetic_conversations`, built in memory (no file).

    Same items and metainfo as :class:`ConversationDataset` (6 IEMOCAP classes,
    2 speakers, text/audio/visual). Only the requested split is generated.

    Args:
        split: ``'train'``, ``'val'`` or ``'test'``.
        num_dialogues, feature_dims, min_len, max_len, seed: see
            :func:`make_synthetic_conversations`.
        kwargs: the other arguments of :class:`ConversationDataset` (``modalities``:
            the modalities to keep, None = all generated; ``metainfo``, ``pipeline``,
            ``test_mode``, ...); ``ann_file`` and ``data_format`` are the generator's.
    """

    def __init__(self,
                 split: str = 'train',
                 num_dialogues: Union[int, Sequence[int],
                                      Mapping[str, int]] = SYNTHETIC_NUM_DIALOGUES,
                 feature_dims: Optional[Mapping[str, int]] = None,
                 min_len: int = 8,
                 max_len: int = 24,
                 seed: int = 0,
                 **kwargs) -> None:
        self.num_dialogues = num_dialogues
        self.feature_dims = None if feature_dims is None else dict(feature_dims)
        self.min_len = min_len
        self.max_len = max_len
        self.seed = seed
        super().__init__(ann_file='', split=split, data_format='synthetic', **kwargs)

    def _load_collection(self) -> ConversationCollection:
        return make_synthetic_conversations(
            self.num_dialogues, self.feature_dims, self.min_len, self.max_len, self.seed,
            splits=(self.split, )).check_classes(self._requested_classes())



def random_dialogues(input_dims: Mapping[str, int], lengths: Sequence[int],
                     num_classes: int, num_speakers: int = 2, seed: int = 0) -> list:
    """Random dialogues of the given lengths, each as
    :class:`~vega_mm.datasets.PackConversationInputs` packs one: ``[dict(inputs=dict(
    feats={m: [L, D_m]}, speakers=[L]), data_samples=ConversationDataSample)]``.

    Gaussian features and uniform labels and speakers, nothing learnable.
    """
    import torch

    from vega_mm.structures import ConversationDataSample
    gen = torch.Generator().manual_seed(seed)
    items = []
    for i, n in enumerate(lengths):
        feats = {m: torch.randn(n, d, generator=gen) for m, d in input_dims.items()}
        sample = ConversationDataSample(metainfo=dict(dialogue_id=f'd{i}', num_utterances=n,
                                                      sample_idx=i))
        sample.set_gt_label(torch.randint(0, num_classes, (n, ), generator=gen))
        speakers = torch.randint(0, num_speakers, (n, ), generator=gen)
        items.append(dict(inputs=dict(feats=feats, speakers=speakers), data_samples=sample))
    return items


def random_dialogue_batch(input_dims: Mapping[str, int], lengths: Sequence[int],
                          num_classes: int, num_speakers: int = 2, seed: int = 0) -> dict:
    """:func:`random_dialogues` padded into one batch by
    :func:`~vega_mm.datasets.conversation_collate` (as a data loader gives it):
    ``dict(inputs=dict(feats={m: [B, L, D_m]}, mask=[B, L], speakers=[B, L]),
    data_samples=[ConversationDataSample])``.

    The smoke batch of the model tests, the speed benchmark and the FLOP counter.
    """
    from .collate import conversation_collate
    return conversation_collate(random_dialogues(input_dims, lengths, num_classes,
                                                 num_speakers, seed))

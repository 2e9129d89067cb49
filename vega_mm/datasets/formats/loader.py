"""Feature files: the SDT/VEGA pickles and the native ``.npz`` (registered as input
formats, :mod:`vega_mm.utils.input_format`), and :func:`load_conversations`, which reads
any of them."""
import os
import pickle
import zipfile
from typing import Optional, Sequence

from vega_mm.utils.input_format import (FEATURES, InputFormat, detect_format, format_names,
                                        format_of_variant, register_format)
from vega_mm.utils.safe_pickle import safe_load_pickle
from .collection import ConversationCollection, make_val_split
from .native import load_native
from .pickles import read_pickle_conversations

__all__ = ['load_conversations', 'detect_format', 'DATA_FORMATS', 'PICKLE', 'NATIVE']


def _is_pickle(path: str, head: bytes) -> bool:
    """A pickle of protocol 2 or later (PROTO opcode): the public files are protocol 2+."""
    return len(head) >= 2 and head[0] == pickle.PROTO[0] and 2 <= head[1] <= 5


def _is_zip(path: str, head: bytes) -> bool:
    return zipfile.is_zipfile(path)


def _read_pickle(path: str, data_format: str = 'auto', classes: Optional[Sequence[str]] = None,
                 dataset_name: Optional[str] = None, val_ratio: float = 0.1,
                 val_seed: int = 0) -> ConversationCollection:
    """An SDT/MMGCN or VEGA pickle (told apart by the tuple length), read data-only."""
    return read_pickle_conversations(
        safe_load_pickle(path), source=path, data_format=data_format, classes=classes,
        dataset_name=dataset_name, val_ratio=val_ratio, val_seed=val_seed)


def _read_native(path: str, data_format: str = 'native',
                 classes: Optional[Sequence[str]] = None, dataset_name: Optional[str] = None,
                 val_ratio: float = 0.1, val_seed: int = 0) -> ConversationCollection:
    """A native file, its ``val`` split carved out of ``train`` when it has none."""
    coll = load_native(path).check_classes(classes)
    if 'val' not in coll.splits:
        train, val = make_val_split(coll.splits.get('train', []), val_ratio, val_seed)
        coll.splits['train'], coll.splits['val'] = train, val
    for split in ('train', 'val', 'test'):
        coll.splits.setdefault(split, [])
    return coll


#: SDT/MMGCN (12 or 13 items) and VEGA (7 items) pickles.
PICKLE = register_format(InputFormat(
    'pickle', FEATURES, ('.pkl', '.pickle'), _is_pickle, _read_pickle,
    variants=('sdt', 'vega'), description='an SDT/MMGCN or VEGA feature pickle'))
#: vega_mm's own ``.npz`` (a zip of plain arrays).
NATIVE = register_format(InputFormat(
    'native', FEATURES, ('.npz', ), _is_zip, _read_native,
    description='a vega_mm native feature file'))

#: Accepted values of ``data_format``: ``('auto', 'sdt', 'vega', 'native')``.
DATA_FORMATS = format_names(FEATURES)


def load_conversations(path: str,
                       data_format: str = 'auto',
                       classes: Optional[Sequence[str]] = None,
                       dataset_name: Optional[str] = None,
                       val_ratio: float = 0.1,
                       val_seed: int = 0) -> ConversationCollection:
    """Read a feature file of any supported format into a validated collection.

    Formats: ``'sdt'`` (SDT / MMGCN pickle: IEMOCAP 12 items, MELD 13), ``'vega'``
    (VEGA pickle, 7 items), ``'native'`` (vega_mm ``.npz``). ``'auto'`` asks
    :func:`~vega_mm.datasets.formats.detect_format` (content, then suffix: a zip is
    native, a pickle is SDT or VEGA by its tuple length). Pickles are
    read with :func:`safe_load_pickle` (data only).

    The pickles hold integer labels only: class names come from ``classes``, else
    from ``dataset_name``, else from the dataset guessed from the file ('M'/'F'
    speakers or 12 items -> IEMOCAP; one-hot speakers or 13 items -> MELD).

    Validation split: the pickles have none, so ``val`` is carved out of the training
    dialogues: their ids in natural order ('d2' before 'd10') are permuted with
    ``numpy.random.default_rng(val_seed)`` and the first ``ceil(val_ratio * n)`` go to
    ``val`` (disjoint from ``train``; ``test`` untouched). A native file keeps its own
    ``val`` split; only a native file without a ``val`` entry gets one carved the same way.

    Args:
        path: the feature file.
        data_format: one of :data:`DATA_FORMATS`.
        classes: class names (for a native file they must match the file's).
        dataset_name: ``'iemocap'`` or ``'meld'``: the class order and speaker count of
            a known dataset (pickles only).
        val_ratio: fraction of training dialogues used for validation, in ``[0, 1)``.
        val_seed: seed of the validation split.

    Returns:
        A :class:`ConversationCollection` (``dialogues``, ``splits``, ``classes``,
        ``modalities``, ``feature_dims``, ``num_speakers``, ``speaker_names``).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: for an unsupported or invalid file (a conversation table included),
            naming the file, the dialogue and the field.
    """
    path = os.fspath(path)
    fmt = None if data_format == 'auto' else format_of_variant(data_format, FEATURES, path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    fmt = fmt or detect_format(path, kind=FEATURES)
    return fmt.read(path, data_format=data_format, classes=classes,
                    dataset_name=dataset_name, val_ratio=val_ratio, val_seed=val_seed)

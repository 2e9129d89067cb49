"""One entry point for every feature-file format."""
import os
import zipfile
from typing import Optional, Sequence

from vega_mm.utils.safe_pickle import safe_load_pickle
from .collection import ConversationCollection, make_val_split
from .native import load_native
from .pickles import read_pickle_conversations

__all__ = ['load_conversations', 'detect_format', 'DATA_FORMATS']

#: Accepted values of ``data_format``.
DATA_FORMATS = ('auto', 'sdt', 'vega', 'native')


def detect_format(path: str) -> str:
    """``'native'`` for ``.npz`` / zip files, else ``'pickle'`` (SDT or VEGA, told apart
    by the tuple length once loaded)."""
    if str(path).lower().endswith('.npz'):
        return 'native'
    if os.path.isfile(path) and zipfile.is_zipfile(path):
        return 'native'
    return 'pickle'


def load_conversations(path: str,
                       data_format: str = 'auto',
                       classes: Optional[Sequence[str]] = None,
                       dataset_name: Optional[str] = None,
                       val_ratio: float = 0.1,
                       val_seed: int = 0) -> ConversationCollection:
    """Read a feature file of any supported format into a validated collection.

    Formats: ``'sdt'`` (SDT / MMGCN pickle: IEMOCAP 12 items, MELD 13), ``'vega'``
    (VEGA pickle, 7 items), ``'native'`` (vega_mm ``.npz``). ``'auto'`` picks native for
    ``.npz`` files and otherwise tells SDT from VEGA by the tuple length. Pickles are
    read with :func:`safe_load_pickle` (data only).

    The pickles hold integer labels only: class names come from ``classes``, else
    from ``dataset_name``, else from the dataset guessed from the file ('M'/'F'
    speakers or 12 items -> IEMOCAP; one-hot speakers or 13 items -> MELD).

    Validation split: the pickles have none, so ``val`` is carved out of the training
    dialogues: their ids sorted as strings are permuted with
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
        ValueError: for an unsupported or invalid file, naming the file, the dialogue
            and the field.
    """
    path = os.fspath(path)
    if data_format not in DATA_FORMATS:
        raise ValueError(f'{path}: unknown data_format {data_format!r}; expected one of '
                         f'{DATA_FORMATS}')
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    kind = detect_format(path) if data_format == 'auto' else data_format
    if kind == 'native':
        coll = load_native(path)
        if classes is not None and tuple(classes) != tuple(coll.classes):
            raise ValueError(f'{path}: classes {list(classes)} were asked for but the file '
                             f'holds {list(coll.classes)}')
        if 'val' not in coll.splits:
            train, val = make_val_split(coll.splits.get('train', []), val_ratio, val_seed)
            coll.splits['train'], coll.splits['val'] = train, val
        for split in ('train', 'val', 'test'):
            coll.splits.setdefault(split, [])
        return coll
    return read_pickle_conversations(
        safe_load_pickle(path),
        source=path,
        data_format=data_format,
        classes=classes,
        dataset_name=dataset_name,
        val_ratio=val_ratio,
        val_seed=val_seed)

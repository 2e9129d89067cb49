"""A dataset of conversations: one item per dialogue."""
from typing import Callable, List, Mapping, Optional, Sequence, Union

import numpy as np
from mmengine.dataset import BaseDataset

from vega_mm.registry import DATASETS, TRANSFORMS
from vega_mm.structures.meta import SPLITS
from .formats import ConversationCollection, load_conversations

__all__ = ['ConversationDataset', 'feature_recipe']


def feature_recipe(extra: Mapping, modalities: Sequence[str]) -> Optional[dict]:
    """How a feature file's features were made, for the kept modalities.

    Feature files written by ``tools/extract_features.py`` record each modality's
    extractor settings (``extra.extractors``) and, when standardised, the training
    statistics (``extra.feature_stats``).  The dataset puts this recipe in its metainfo,
    so MMEngine saves it in every checkpoint (``meta.dataset_meta``) and a trained model
    can encode a new conversation the same way (:class:`vega_mm.apis.ConversationInferencer`).

    Args:
        extra: the collection's ``extra`` (free information of a native file).
        modalities: the modalities the dataset keeps.

    Returns:
        The recipe,
        ``dict(extractors={modality: config}, feature_stats={modality: {mean, std, ...}}
        or None, standardized=bool, created_by=str)``, or None for files without a
        recipe (the public SDT/VEGA pickles, synthetic data).
    """
    extractors = (extra or {}).get('extractors')
    if not extractors:
        return None
    stats = extra.get('feature_stats') if extra.get('standardized') else None
    return dict(
        extractors={m: extractors[m] for m in modalities if m in extractors},
        feature_stats=None if stats is None else {m: stats[m] for m in modalities
                                                  if m in stats},
        standardized=bool(extra.get('standardized')),
        created_by=extra.get('created_by'))


@DATASETS.register_module()
class ConversationDataset(BaseDataset):
    """One split of a conversation feature file; each item is one dialogue.

    Items (before the pipeline) are raw dialogues, see ``docs/internals.md``::

        dict(dialogue_id=str, features={modality: float32[L, D]}, speakers=int64[L],
             labels=int64[L], utterance_ids=[...] (optional), sentiments=int64[L]
             (optional: native files extracted from tables with a sentiment column),
             sample_idx=int)

    ``metainfo`` holds ``classes``, ``modalities``, ``feature_dims``, ``num_speakers``,
    ``speaker_names`` and ``feature_recipe`` (:func:`feature_recipe`), filled when the
    file is loaded: at construction, or at ``full_init()`` with ``lazy_init=True``.
    MMEngine saves the training dataset's metainfo in checkpoints (``meta.dataset_meta``).

    Args:
        ann_file: the feature file (SDT/MMGCN or VEGA pickle, or native ``.npz``),
            relative to ``data_root`` unless absolute.
        split: ``'train'``, ``'val'`` or ``'test'``. The pickles have no validation
            split: ``val`` is a deterministic ``val_ratio`` of the training dialogues
            (see :func:`vega_mm.datasets.formats.load_conversations`), and ``train``
            is the rest.
        data_format: one of :data:`~vega_mm.datasets.formats.DATA_FORMATS`
            (``'auto'``, ``'sdt'``, ``'vega'``, ``'native'``); ``'auto'`` lets the input
            format registry tell (:func:`~vega_mm.datasets.formats.detect_format`). A
            conversation table is refused with a message naming the feature-file
            suffixes (extract its features first).
        classes: class names (else ``metainfo['classes']``, else the file's or the
            known dataset's).
        modalities: modalities to keep, e.g. ``('text', 'audio')``; None keeps all the
            file has. Asking for one the file lacks is an error.
        dataset_name: ``'iemocap'`` or ``'meld'`` for pickles whose dataset cannot be
            guessed.
        val_ratio: fraction of training dialogues used for validation (pickles).
        val_seed: seed of the validation split.
        metainfo, data_root, indices, serialize_data, pipeline, test_mode, lazy_init, max_refetch:
            as in :class:`mmengine.dataset.BaseDataset`.
    """

    METAINFO: dict = dict()

    def __init__(self,
                 ann_file: str = '',
                 split: str = 'train',
                 data_format: str = 'auto',
                 classes: Optional[Sequence[str]] = None,
                 modalities: Optional[Union[str, Sequence[str]]] = None,
                 dataset_name: Optional[str] = None,
                 val_ratio: float = 0.1,
                 val_seed: int = 0,
                 metainfo: Optional[Mapping] = None,
                 data_root: str = '',
                 indices: Optional[Union[int, Sequence[int]]] = None,
                 serialize_data: bool = True,
                 pipeline: Sequence[Union[dict, Callable]] = (),
                 test_mode: bool = False,
                 lazy_init: bool = False,
                 max_refetch: int = 1000) -> None:
        if split not in SPLITS:
            raise ValueError(f'split must be one of {SPLITS}, got {split!r}')
        if isinstance(modalities, str):
            modalities = (modalities, )
        self.split = split
        self.data_format = data_format
        self.modalities = None if modalities is None else tuple(modalities)
        self.dataset_name = dataset_name
        self.val_ratio = val_ratio
        self.val_seed = val_seed
        metainfo = dict(metainfo or {})
        if classes is not None:
            metainfo['classes'] = tuple(classes)
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_root=data_root,
            data_prefix=dict(),
            indices=indices,
            serialize_data=serialize_data,
            # Build transforms from vega_mm's registry (mmengine's Compose would look
            # them up in its root registry and miss ours without a default scope).
            pipeline=[TRANSFORMS.build(t) if isinstance(t, dict) else t for t in pipeline],
            test_mode=test_mode,
            lazy_init=lazy_init,
            max_refetch=max_refetch)

    def _requested_classes(self) -> Optional[tuple]:
        classes = self._metainfo.get('classes')
        return None if classes is None else tuple(classes)

    def _load_collection(self) -> ConversationCollection:
        """Read the whole file (subclasses may build the collection otherwise); a
        collection of other classes than the requested ones is refused
        (:meth:`ConversationCollection.check_classes`)."""
        if not self.ann_file:
            raise ValueError(f'{type(self).__name__} needs ann_file (a feature file)')
        return load_conversations(
            self.ann_file,
            data_format=self.data_format,
            classes=self._requested_classes(),
            dataset_name=self.dataset_name,
            val_ratio=self.val_ratio,
            val_seed=self.val_seed)

    def load_data_list(self) -> List[dict]:
        """The raw dialogues of ``self.split``, restricted to the chosen modalities."""
        coll = self._load_collection()  # its classes are checked where it is made
        src = coll.source or type(self).__name__
        if self.modalities is None:
            modalities = tuple(coll.modalities)
        else:
            missing = [m for m in self.modalities if m not in coll.modalities]
            if missing:
                raise ValueError(f'{src}: modality {missing} requested but the file has only '
                                 f'{list(coll.modalities)}')
            modalities = self.modalities
        items = coll.get_split(self.split)
        if not items:
            raise ValueError(f'{src}: the {self.split} split holds no dialogues'
                             + (' (val_ratio=0?)' if self.split == 'val' else ''))
        if self.split == 'train' and not self.test_mode and \
                not any((np.asarray(item['labels']) >= 0).any() for item in items):
            # training would run a whole epoch on a zero loss and then fail
            raise ValueError(f'{src}: the train split has no labelled utterance (every '
                             'label is -1); expected labels to train on (a labelled '
                             'file, or a "label" column in a table)')
        data_list = []
        for item in items:
            item = dict(item)
            item['features'] = {m: item['features'][m] for m in modalities}
            data_list.append(item)
        self._metainfo.update(
            coll.metainfo,  # restricted to the chosen modalities:
            modalities=tuple(modalities),
            feature_dims={m: coll.feature_dims[m] for m in modalities},
            feature_recipe=feature_recipe(coll.extra, modalities),
            split=self.split)
        return data_list

    def get_cat_ids(self, idx: int) -> List[int]:
        """Classes present in dialogue ``idx`` (for class-balanced wrappers)."""
        labels = self.get_data_info(idx)['labels']
        return [int(c) for c in np.unique(labels[labels >= 0])]

"""Context-free baselines on a feature file: one utterance at a time, no dialogue.

What a conversation model adds over its utterance features alone::

    res = logistic_regression_baseline('data/meld_text/meld_minilm.npz',
                                       class_weights=(None, config_class_weights(cfg)))
    res['C'], res['class_weight'], res['test']['weighted_f1']
"""
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from vega_mm.evaluation.metrics import erc_scores
from vega_mm.structures.meta import HEADLINE_METRICS

if TYPE_CHECKING:
    from vega_mm.datasets.formats import ConversationCollection

__all__ = ['DEFAULT_C_GRID', 'utterance_arrays', 'baseline_scores',
           'config_class_weights', 'logistic_regression_baseline', 'fit_logistic_regression',
           'config_utterance_arrays', 'config_logistic_regression']

#: Inverse regularisation strengths tried on validation.
DEFAULT_C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
#: A class weighting: None (unweighted), ``'balanced'`` or one weight per class.
ClassWeight = Union[None, str, Sequence[float]]


def _collection(data: Union[str, 'ConversationCollection']) -> 'ConversationCollection':
    if isinstance(data, str):
        from vega_mm.datasets.formats import load_conversations
        return load_conversations(data)
    return data


def utterance_arrays(data: Union[str, 'ConversationCollection'], split: str,
                     modality: str = 'text') -> Tuple[np.ndarray, np.ndarray]:
    """The labelled utterances of one split of a feature file, dialogues flattened.

    Args:
        data: a feature file ``load_conversations`` reads (native ``.npz``, pickles),
            or the ``ConversationCollection`` it returned.
        split: ``'train'``, ``'val'`` or ``'test'``.
        modality: which features.

    Returns:
        ``(x, y)``: features float[N, D] and labels int[N] of the N labelled utterances
        (unlabelled ones, label -1, are left out).

    Raises:
        KeyError: the file has no such split or modality.
    """
    coll = _collection(data)
    if modality not in coll.modalities:
        raise KeyError(f'{coll.source}: no {modality!r} features; it has '
                       f'{list(coll.modalities)}')
    items = coll.get_split(split)
    x = np.concatenate([d['features'][modality] for d in items])
    y = np.concatenate([d['labels'] for d in items])
    keep = y >= 0
    return x[keep], y[keep]


def baseline_scores(y: np.ndarray, pred: np.ndarray, num_classes: int) -> Dict[str, float]:
    """:data:`~vega_mm.structures.meta.HEADLINE_METRICS` of flat predictions, computed like the models' metric.

    Args:
        y: true labels int[N] (-1 = unlabelled, left out).
        pred: predicted labels int[N].
        num_classes: number of classes.

    Returns:
        ``{name: value in %}`` for the names in :data:`~vega_mm.structures.meta.HEADLINE_METRICS`.
    """
    scores = erc_scores(np.asarray(y), np.asarray(pred), num_classes)
    return {name: float(scores[name]) for name in HEADLINE_METRICS}


def config_class_weights(config: str) -> List[float]:
    """The class weights a config's model trains with (``model.class_weight``, or its
    label head's ``loss.class_weight``).

    Offered to a baseline as one of its choices, so that it gets the same choices as
    the model (the weights were chosen on validation for that config).

    Raises:
        KeyError: the config's model has no class weights.
    """
    from mmengine.config import Config
    return _model_class_weights(Config.fromfile(config).model, config)


def _model_class_weights(model: Mapping[str, Any], config: str) -> List[float]:
    weights = model.get('class_weight')
    if weights is None:
        weights = ((model.get('head') or {}).get('loss') or {}).get('class_weight')
    if weights is None:
        raise KeyError(f'{config}: neither model.class_weight nor '
                       'model.head.loss.class_weight is set')
    return [float(w) for w in weights]


def config_utterance_arrays(config: str, split: str,
                            cfg_options: Optional[Mapping[str, Any]] = None
                            ) -> Tuple[np.ndarray, np.ndarray, Tuple[str, ...]]:
    """The labelled utterances of one split of a config's dataset, modalities concatenated.

    Builds ``{split}_dataloader.dataset`` of the config (after ``cfg_options`` and its
    ``modalities`` declaration), so any dataset a config reads works: feature files,
    pickles, synthetic conversations.

    Args:
        config: a config file.
        split: ``'train'``, ``'val'`` or ``'test'``.
        cfg_options: overrides, as ``tools/train.py --cfg-options`` takes them.

    Returns:
        ``(x, y, classes)``: features float[N, sum of D_m] (the declared modalities in
        canonical order), labels int[N] of the N labelled utterances, class names.
    """
    from mmengine.config import Config

    from vega_mm.registry import DATASETS
    from vega_mm.structures.meta import MODALITIES
    from vega_mm.utils import apply_modalities
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(dict(cfg_options))
    apply_modalities(cfg)
    key = f'{split}_dataloader'
    if not cfg.get(key):
        raise KeyError(f'{config}: no {key} (needed for the {split} split)')
    dataset = DATASETS.build(cfg[key]['dataset'])
    items = [dataset.get_data_info(i) for i in range(len(dataset))]
    modalities = [m for m in MODALITIES if m in items[0]['features']]
    x = np.concatenate([np.concatenate([d['features'][m] for m in modalities], axis=1)
                        for d in items])
    y = np.concatenate([d['labels'] for d in items])
    keep = y >= 0
    return x[keep].astype(np.float32), y[keep], tuple(dataset.metainfo['classes'])


def fit_logistic_regression(splits: Mapping[str, Tuple[np.ndarray, np.ndarray]],
                            num_classes: int,
                            grid: Sequence[float] = DEFAULT_C_GRID,
                            class_weights: Sequence[ClassWeight] = (None, ),
                            max_iter: int = 2000) -> Dict[str, Any]:
    """Logistic regression on single utterances; ``C`` and class weighting chosen on val.

    Fits on ``splits['train']`` for every ``C`` in ``grid`` and every entry of
    ``class_weights``, keeps the fit with the best validation weighted F1 and scores
    it on ``splits['test']``.

    Args:
        splits: ``{'train'|'val'|'test': (x float[N, D], y int[N])}``.
        num_classes: number of classes.
        grid: the values of ``C`` to try.
        class_weights: the class weightings to try: ``None`` (unweighted),
            ``'balanced'`` (inverse training frequency) or one weight per class.
        max_iter: solver iterations.

    Returns:
        ``dict(C=..., class_weight=list, 'balanced' or None, val=scores, test=scores)``
        with the scores of :func:`baseline_scores`.
    """
    from sklearn.linear_model import LogisticRegression
    if not grid or not class_weights:
        raise ValueError('logistic regression baseline: grid and class_weights must not '
                         'be empty')
    missing = [s for s in ('train', 'val', 'test') if s not in splits]
    if missing:
        raise KeyError(f'logistic regression baseline: no {missing} split')
    (xtr, ytr), (xva, yva), (xte, yte) = (splits[s] for s in ('train', 'val', 'test'))
    best = None
    for weights in class_weights:
        cw = weights if weights in (None, 'balanced') else dict(enumerate(weights))
        for c in grid:
            clf = LogisticRegression(C=c, max_iter=max_iter, class_weight=cw).fit(xtr, ytr)
            val = baseline_scores(yva, clf.predict(xva), num_classes)
            if best is None or val['weighted_f1'] > best[2]['weighted_f1']:
                best = (c, weights, val, clf)
    c, weights, val, clf = best
    return dict(C=c, class_weight=weights if weights in (None, 'balanced') else list(weights),
                val=val, test=baseline_scores(yte, clf.predict(xte), num_classes))


def logistic_regression_baseline(
        data: Union[str, 'ConversationCollection'],
        grid: Sequence[float] = DEFAULT_C_GRID,
        class_weights: Sequence[ClassWeight] = (None, ),
        modality: str = 'text',
        max_iter: int = 2000) -> Dict[str, Any]:
    """:func:`fit_logistic_regression` on one modality of a feature file.

    Args:
        data: a feature file with train, val and test splits, or its collection.
        grid, class_weights, max_iter: see :func:`fit_logistic_regression`.
        modality: which features.
    """
    coll = _collection(data)
    splits = {s: utterance_arrays(coll, s, modality) for s in ('train', 'val', 'test')}
    return fit_logistic_regression(splits, len(coll.classes), grid, class_weights, max_iter)


def config_logistic_regression(config: str,
                               cfg_options: Optional[Mapping[str, Any]] = None,
                               grid: Sequence[float] = DEFAULT_C_GRID,
                               max_iter: int = 2000) -> Dict[str, Any]:
    """The context-free logistic regression on the data of a config (all its declared
    modalities concatenated).

    The class weightings tried on validation: none, ``'balanced'`` and the config's own
    ``model.class_weight`` when it has one (chosen on validation for that config).

    Returns:
        As :func:`fit_logistic_regression`, plus ``classes``.
    """
    splits, classes = {}, ()
    for split in ('train', 'val', 'test'):
        x, y, classes = config_utterance_arrays(config, split, cfg_options)
        splits[split] = (x, y)
    weights: List[ClassWeight] = [None, 'balanced']
    try:
        from mmengine.config import Config
        cfg = Config.fromfile(config)
        if cfg_options:
            cfg.merge_from_dict(dict(cfg_options))
        weights.append(_model_class_weights(cfg.model, config))
    except KeyError:
        pass  # a config without class weights: unweighted and balanced only
    res = fit_logistic_regression(splits, len(classes), grid, weights, max_iter)
    return dict(res, classes=list(classes))

"""Context-free baselines on a feature file: one utterance at a time, no dialogue.

What a conversation model adds over its utterance features alone::

    res = logistic_regression_baseline('data/meld_text/meld_minilm.npz',
                                       class_weights=(None, config_class_weights(cfg)))
    res['C'], res['class_weight'], res['test']['weighted_f1']
"""
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .metrics import erc_scores

if TYPE_CHECKING:
    from vega_mm.datasets.formats import ConversationCollection

__all__ = ['BASELINE_METRICS', 'DEFAULT_C_GRID', 'utterance_arrays', 'baseline_scores',
           'config_class_weights', 'logistic_regression_baseline']

#: The scores a baseline reports (in %), as the models' ``erc/<name>`` metrics.
BASELINE_METRICS = ('weighted_f1', 'accuracy', 'macro_f1')
#: Inverse regularisation strengths tried on validation.
DEFAULT_C_GRID = (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)


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
    """:data:`BASELINE_METRICS` of flat predictions, computed like the models' metric.

    Args:
        y: true labels int[N] (-1 = unlabelled, left out).
        pred: predicted labels int[N].
        num_classes: number of classes.

    Returns:
        ``{name: value in %}`` for the names in :data:`BASELINE_METRICS`.
    """
    scores = erc_scores(np.asarray(y), np.asarray(pred), num_classes)
    return {name: float(scores[name]) for name in BASELINE_METRICS}


def config_class_weights(config: str) -> List[float]:
    """The class weights a config's model trains with (``model.class_weight``, or its
    label head's ``loss.class_weight``).

    Offered to a baseline as one of its choices, so that it gets the same choices as
    the model (the weights were chosen on validation for that config).

    Raises:
        KeyError: the config's model has no class weights.
    """
    from mmengine.config import Config
    model = Config.fromfile(config).model
    weights = model.get('class_weight')
    if weights is None:
        weights = ((model.get('head') or {}).get('loss') or {}).get('class_weight')
    if weights is None:
        raise KeyError(f'{config}: neither model.class_weight nor '
                       'model.head.loss.class_weight is set')
    return [float(w) for w in weights]


def logistic_regression_baseline(
        data: Union[str, 'ConversationCollection'],
        grid: Sequence[float] = DEFAULT_C_GRID,
        class_weights: Sequence[Optional[Sequence[float]]] = (None, ),
        modality: str = 'text',
        max_iter: int = 2000) -> Dict[str, Any]:
    """Logistic regression on single utterances; ``C`` and class weighting chosen on val.

    Fits on the train split for every ``C`` in ``grid`` and every entry of
    ``class_weights``, keeps the fit with the best validation weighted F1 and scores
    it on the test split.

    Args:
        data: a feature file with train, val and test splits, or its collection.
        grid: the values of ``C`` to try.
        class_weights: the class weightings to try: ``None`` (unweighted) or one
            weight per class, in label order.
        modality: which features.
        max_iter: solver iterations.

    Returns:
        ``dict(C=..., class_weight=list or None, val=scores, test=scores)`` with the
        scores of :func:`baseline_scores`.
    """
    from sklearn.linear_model import LogisticRegression
    if not grid or not class_weights:
        raise ValueError('logistic_regression_baseline: grid and class_weights must not '
                         'be empty')
    coll = _collection(data)
    xtr, ytr = utterance_arrays(coll, 'train', modality)
    xva, yva = utterance_arrays(coll, 'val', modality)
    xte, yte = utterance_arrays(coll, 'test', modality)
    num_classes = len(coll.classes)
    best = None
    for weights in class_weights:
        cw = None if weights is None else dict(enumerate(weights))
        for c in grid:
            clf = LogisticRegression(C=c, max_iter=max_iter, class_weight=cw).fit(xtr, ytr)
            val = baseline_scores(yva, clf.predict(xva), num_classes)
            if best is None or val['weighted_f1'] > best[2]['weighted_f1']:
                best = (c, weights, val, clf)
    c, weights, val, clf = best
    return dict(C=c, class_weight=None if weights is None else list(weights), val=val,
                test=baseline_scores(yte, clf.predict(xte), num_classes))

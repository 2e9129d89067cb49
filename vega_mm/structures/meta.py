"""Dataset facts, in one place: modality and split names, the known datasets and the
names of the headline metrics.

The bottom floor: every layer (readers, the backbone, the heads' branches, config
checks, the anchor builder's class lists, feature extraction) imports these from here
(``from vega_mm.structures.meta import MODALITIES``); no other module re-exports them.
"""
from typing import Any, Dict, Tuple

__all__ = ['MODALITIES', 'SPLITS', 'IEMOCAP_CLASSES', 'MELD_CLASSES', 'SENTIMENTS',
           'KNOWN_DATASETS',
           'METRIC_PREFIX', 'HEADLINE_METRICS', 'metric_name']

#: Modality names, in canonical order (the backbone's and the feature files').
MODALITIES: Tuple[str, ...] = ('text', 'audio', 'visual')

#: Split names, in the order files and summaries list them.
SPLITS: Tuple[str, ...] = ('train', 'val', 'test')

#: Label orders of the datasets VEGA is published on.
IEMOCAP_CLASSES: Tuple[str, ...] = ('happy', 'sad', 'neutral', 'anger', 'excited',
                                    'frustration')
MELD_CLASSES: Tuple[str, ...] = ('neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust',
                                 'anger')

#: Utterance sentiments (MELD's ``Sentiment`` column), index = the stored value (-1:
#: unknown), the order GraphSmile's sentiment classifier uses.
SENTIMENTS: Tuple[str, ...] = ('negative', 'neutral', 'positive')

#: Known datasets: class order and speaker count (IEMOCAP: M/F; MELD: 8 main speakers +
#: other). Class weights are the configs' (``model.class_weight``), not facts here.
KNOWN_DATASETS: Dict[str, Dict[str, Any]] = {
    'iemocap': dict(classes=IEMOCAP_CLASSES, num_speakers=2),
    'meld': dict(classes=MELD_CLASSES, num_speakers=9),
}


#: The prefix of :class:`~vega_mm.evaluation.ERCMetric`'s results (``erc/accuracy``).
METRIC_PREFIX = 'erc'
#: The headline metrics (in %), in the order every table lists them; the metric also
#: reports ``f1_<class>`` and ``weighted_f1_<branch>``.
HEADLINE_METRICS: Tuple[str, ...] = ('accuracy', 'weighted_f1', 'macro_f1')


def metric_name(key: str) -> str:
    """A logged metric key without its prefix: ``'erc/weighted_f1'`` -> ``'weighted_f1'``
    (a key without a prefix is returned as it is)."""
    return key.split('/', 1)[-1]

"""Dataset facts, in one place: modality and split names, and the known datasets.

Everything else (readers, the backbone, the heads' branches, configs, the anchor
builder's class lists, feature extraction) takes these from here.
"""
from typing import Any, Dict, Tuple

__all__ = ['MODALITIES', 'SPLITS', 'IEMOCAP_CLASSES', 'MELD_CLASSES', 'KNOWN_DATASETS']

#: Modality names, in canonical order (the backbone's and the feature files').
MODALITIES: Tuple[str, ...] = ('text', 'audio', 'visual')

#: Split names, in the order files and summaries list them.
SPLITS: Tuple[str, ...] = ('train', 'val', 'test')

#: Label orders of the datasets VEGA is published on.
IEMOCAP_CLASSES: Tuple[str, ...] = ('happy', 'sad', 'neutral', 'anger', 'excited',
                                    'frustration')
MELD_CLASSES: Tuple[str, ...] = ('neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust',
                                 'anger')

#: Known datasets: class order, speaker count (IEMOCAP: M/F; MELD: 8 main speakers +
#: other) and the class weights of the published implementation.
KNOWN_DATASETS: Dict[str, Dict[str, Any]] = {
    'iemocap': dict(
        classes=IEMOCAP_CLASSES, num_speakers=2,
        class_weight=(2.85339499, 1.70571959, 1.08255267, 1.67633724, 1.77617681, 1.0)),
    'meld': dict(
        classes=MELD_CLASSES, num_speakers=9,
        class_weight=(1.0, 3.93398523, 17.97765350, 6.42315388, 2.78856158, 17.82825470,
                      4.00497818)),
}

"""Per-modality standardisation with training-split statistics.

Sentence embeddings are unit-norm (each dimension ~0.05) while the backbone adds
positional and speaker embeddings of scale ~1; standardising each feature dimension to
zero mean and unit variance over the *training* utterances puts every modality on the
scale the model expects.  Validation and test utterances are transformed with the same
statistics, which are stored in the feature file (``extra.feature_stats``) so new
conversations can be transformed identically (:func:`apply_feature_stats`).
"""
from typing import Dict, Mapping, Sequence

import numpy as np

__all__ = ['compute_feature_stats', 'apply_feature_stats']


def compute_feature_stats(features: Mapping[str, np.ndarray], split: str = 'train',
                          min_std: float = 1e-6) -> Dict[str, Dict[str, object]]:
    """Mean and standard deviation per dimension of each modality.

    Args:
        features: modality -> float [N, D], the training split's utterances only.
        split: recorded with the statistics (``'train'``).
        min_std: dimensions with a smaller deviation (constant features) get std 1, so
            they are centred but not blown up.

    Returns:
        The statistics,
        ``{modality: {'mean': [D floats], 'std': [D floats], 'split': split,
        'num_utterances': N}}`` (JSON-serialisable).
    """
    stats: Dict[str, Dict[str, object]] = {}
    for modality, x in features.items():
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise ValueError(f'{modality}: need at least 2 training utterances [N, D] to '
                             f'standardise, got shape {x.shape}')
        mean = x.mean(0)
        std = x.std(0)
        std = np.where(std < min_std, 1.0, std)
        stats[modality] = dict(mean=[float(v) for v in mean], std=[float(v) for v in std],
                               split=split, num_utterances=int(len(x)))
    return stats


def apply_feature_stats(features: np.ndarray, stats: Mapping[str, Sequence[float]],
                        modality: str = '') -> np.ndarray:
    """``(x - mean) / std`` with stored statistics, float32 [N, D]."""
    mean = np.asarray(stats['mean'], dtype=np.float64)
    std = np.asarray(stats['std'], dtype=np.float64)
    x = np.asarray(features, dtype=np.float64)
    if x.shape[-1] != mean.shape[0]:
        raise ValueError(f'{modality}: features have {x.shape[-1]} dimensions but the '
                         f'statistics have {mean.shape[0]}')
    return ((x - mean) / std).astype(np.float32)

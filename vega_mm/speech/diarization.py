"""Who speaks when, for recordings without a transcript: a simple voice clustering.

vega_mm has no trained speaker-embedding model (none can be installed here with its
weights), so ``--speakers N`` groups utterances by their voice's average spectrum: each
utterance is the mean of its Whisper log-mel spectrogram (80 bands), centred over the
recording, and Ward's agglomerative clustering (scikit-learn) makes ``N`` groups. This
separates voices that differ in pitch and timbre (a man and a woman, two very different
voices); it does not tell apart similar voices, and what is said colours the spectrum
too. Without ``--speakers`` a recording has one speaker, which is always right about
*who is labelled* (the emotion model sees one voice) and never invents a change.
"""
from typing import List, Sequence

import numpy as np

__all__ = ['voice_profiles', 'cluster_speakers']


def voice_profiles(segments: Sequence[np.ndarray], sampling_rate: int = 16000) -> np.ndarray:
    """Mean log-mel spectrum of each 16 kHz mono segment, float32 [N, 80]."""
    if sampling_rate != 16000:
        raise ValueError(f'voice profiles need 16 kHz audio, got {sampling_rate} Hz')
    try:
        from faster_whisper.feature_extractor import FeatureExtractor
    except ImportError as exc:
        raise ImportError("speaker clustering uses faster-whisper's log-mel features: "
                          "pip install 'vega_mm[asr]'") from exc
    mel = FeatureExtractor(feature_size=80)
    return np.stack([mel(np.asarray(s, dtype=np.float32)).mean(1)
                     for s in segments]).astype(np.float32)


def cluster_speakers(segments: Sequence[np.ndarray], num_speakers: int,
                     sampling_rate: int = 16000) -> List[int]:
    """A speaker index per segment, numbered by first appearance (the first segment's
    speaker is 0).

    Args:
        segments: each utterance's samples (16 kHz mono float32).
        num_speakers: how many voices the recording has (at least 1).

    Raises:
        ValueError: ``num_speakers`` below 1 or above the number of segments.
    """
    n = len(segments)
    if num_speakers < 1:
        raise ValueError(f'--speakers must be at least 1, got {num_speakers}')
    if num_speakers > n:
        raise ValueError(f'--speakers {num_speakers}: the recording has only {n} '
                         f'utterance(s), so at most {n} speakers can be told apart')
    if num_speakers == 1:
        return [0] * n
    from sklearn.cluster import AgglomerativeClustering
    profiles = voice_profiles(segments, sampling_rate)
    profiles = profiles - profiles.mean(0, keepdims=True)
    groups = AgglomerativeClustering(n_clusters=num_speakers,
                                     linkage='ward').fit_predict(profiles)
    order = {}
    for g in groups:
        order.setdefault(int(g), len(order))
    return [order[int(g)] for g in groups]

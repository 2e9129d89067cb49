"""Audio features: openSMILE functionals of the utterance's segment of a wav/video file."""
from typing import Any, Dict, Optional, Sequence

import numpy as np

from vega_mm.conversations import Utterance
from vega_mm.speech.media import (MediaError, is_audio, is_video, load_audio_segment,
                                  video_audio_backend)
from .base import BaseFeatureExtractor, register_extractor

__all__ = ['OPENSMILE_FEATURE_SETS', 'OpenSmileExtractor']

#: Accepted names (lower case) -> openSMILE FeatureSet member.
OPENSMILE_FEATURE_SETS: Dict[str, str] = {
    'egemaps': 'eGeMAPSv02', 'egemapsv02': 'eGeMAPSv02',
    'gemaps': 'GeMAPSv01b', 'gemapsv01b': 'GeMAPSv01b',
    'compare': 'ComParE_2016', 'compare_2016': 'ComParE_2016',
    'emobase': 'emobase',
}


@register_extractor(default=True)
class OpenSmileExtractor(BaseFeatureExtractor):
    """openSMILE functionals (one vector per utterance).

    Args:
        feature_set: ``'eGeMAPSv02'`` (88-d, default), ``'ComParE_2016'`` (6373-d),
            ``'GeMAPSv01b'`` or ``'emobase'`` (case-insensitive, short names accepted).
        tolerance: seconds a segment end may pass the end of its file.
        min_duration: shorter segments are an error.

    Attributes:
        dim (int), modality (``'audio'``).
    """
    modality = 'audio'
    needs_media = True

    def __init__(self, feature_set: str = 'eGeMAPSv02', tolerance: float = 0.1,
                 min_duration: float = 0.1) -> None:
        import opensmile
        name = OPENSMILE_FEATURE_SETS.get(feature_set.lower())
        if name is None:
            raise ValueError(f'unknown openSMILE feature set {feature_set!r}; choose from '
                             f'{sorted(set(OPENSMILE_FEATURE_SETS.values()))}')
        self.feature_set = name
        self.tolerance = tolerance
        self.min_duration = min_duration
        self.smile = opensmile.Smile(feature_set=getattr(opensmile.FeatureSet, name),
                                     feature_level=opensmile.FeatureLevel.Functionals)
        self.feature_names = list(self.smile.feature_names)
        self.dim = len(self.feature_names)

    @classmethod
    def usable(cls, utterances: Sequence[Utterance]) -> bool:
        """Audio files, or videos with a way to read their sound track."""
        media = [u.media for u in utterances if u.media is not None]
        if not media:
            return False
        has_video = any(is_video(m) for m in media)
        return all(is_audio(m) for m in media) or bool(has_video and video_audio_backend())

    def config(self) -> Dict[str, Any]:
        """What identifies these features (compared when an extraction resumes)."""
        return dict(type=type(self).__name__, feature_set=self.feature_set, dim=self.dim,
                    tolerance=self.tolerance)

    def extract_signal(self, signal: np.ndarray, sampling_rate: int,
                       where: str = '') -> np.ndarray:
        """Functionals of one mono signal, float32 [dim]."""
        values = self.smile.process_signal(signal, sampling_rate).to_numpy()
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        if values.shape[0] != self.dim or not np.isfinite(values).all():
            raise MediaError(f'{where}: openSMILE returned {values.shape[0]} values, '
                             f'{int((~np.isfinite(values)).sum())} of them not finite '
                             '(segment too short?)')
        return values

    def extract_one(self, media: Optional[str], start: Optional[float] = None,
                    end: Optional[float] = None, where: str = '') -> np.ndarray:
        """Functionals of one utterance's segment, float32 [dim]."""
        if media is None:
            raise MediaError(f'{where}: utterance has no media file')
        signal, sr = load_audio_segment(media, start, end, where, self.tolerance,
                                        self.min_duration)
        return self.extract_signal(signal, sr, where)

    def extract(self, utterances: Sequence[Utterance]) -> np.ndarray:
        """Features of :class:`~vega_mm.conversations.Utterance` objects [N, dim]."""
        out = np.zeros((len(utterances), self.dim), dtype=np.float32)
        for i, u in enumerate(utterances):
            out[i] = self.extract_one(u.media, u.start, u.end, u.source)
        return out

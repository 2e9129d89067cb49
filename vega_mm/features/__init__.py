"""Raw conversations -> features: text, audio and visual extractors, and the resumable
pipeline writing native feature files (``tools/extract_features.py``).

Importing this package registers the extractors in ``FEATURE_EXTRACTORS``, each under
its class name and the default one of each modality under the modality's name (for audio
openSMILE; the Whisper encoder, :class:`WhisperAudioExtractor`, is chosen by its type).  The
conversation tables they read are input formats (:mod:`vega_mm.datasets.formats`);
:class:`TableSpec` and :func:`meld_tables`, the inputs of :func:`extract_features`, are
importable from here too.
"""
from vega_mm.datasets.formats import TableSpec, meld_tables  # the inputs of extract_features
from .audio import OPENSMILE_FEATURE_SETS, OpenSmileExtractor
from .base import (BaseFeatureExtractor, build_extractor, extractor_class,
                   register_extractor, registered_modalities)
from .extract import MissingPartsError, extract_features
from .media import MediaError, load_audio_segment, sample_video_frames
from .parts import PartStore
from .standardize import apply_feature_stats, compute_feature_stats
from .text import DEFAULT_TEXT_MODEL, TextFeatureExtractor, default_text_model
from .text_finetune import finetune_text_encoder
from .visual import VisualFeatureExtractor
from .whisper_audio import WhisperAudioExtractor

__all__ = [
    'extract_features', 'MissingPartsError', 'meld_tables', 'TableSpec', 'PartStore',
    'BaseFeatureExtractor', 'register_extractor', 'extractor_class', 'build_extractor',
    'registered_modalities',
    'TextFeatureExtractor', 'OpenSmileExtractor', 'WhisperAudioExtractor',
    'VisualFeatureExtractor',
    'finetune_text_encoder', 'default_text_model', 'DEFAULT_TEXT_MODEL',
    'OPENSMILE_FEATURE_SETS', 'MediaError', 'load_audio_segment', 'sample_video_frames',
    'compute_feature_stats', 'apply_feature_stats'
]

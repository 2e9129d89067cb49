"""Raw conversations -> features: text, audio and visual extractors, and the resumable
pipeline writing native feature files (``tools/extract_features.py``).

Importing this package registers the extractors in ``FEATURE_EXTRACTORS``, each under
its class name and the default one of each modality under the modality's name (for audio
openSMILE; the Whisper encoder, :class:`WhisperAudioExtractor`, is chosen by its type).  The
conversation tables they read are raw conversations (:mod:`vega_mm.conversations`);
:class:`TableSpec` and :func:`meld_tables`, the inputs of :func:`extract_features`, are
importable from here too, and so is :class:`MediaError`, what the extractors raise for
unreadable media (:mod:`vega_mm.speech.media` decodes the sound, :mod:`.frames` the
video frames).
"""
from vega_mm.conversations import TableSpec, meld_tables  # the inputs of extract_features
from vega_mm.speech.media import MediaError
from vega_mm.utils.moved import moved_attribute
from .audio import OPENSMILE_FEATURE_SETS, OpenSmileExtractor
from .base import (BaseFeatureExtractor, build_extractor, extractor_class,
                   register_extractor, registered_modalities)
from .extract import MissingPartsError, extract_features
from .frames import sample_video_frames
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
    'OPENSMILE_FEATURE_SETS', 'MediaError', 'sample_video_frames',
    'compute_feature_stats', 'apply_feature_stats'
]

# Turning recordings into utterances moved to vega_mm.speech (not a feature's job);
# ``vega_mm.features.speech``, documented before, re-exports vega_mm.speech.segments.
__getattr__ = moved_attribute(__name__, {
    'load_audio_segment': 'vega_mm.speech', 'media': 'vega_mm.speech.media',
    'diarization': 'vega_mm.speech.diarization'})

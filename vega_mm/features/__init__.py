"""Raw conversations -> features: text, audio and visual extractors, and the resumable
pipeline writing native feature files (``tools/extract_features.py``).

Importing this package registers the extractors in ``FEATURE_EXTRACTORS``, each under
its class name and the default one of each modality under the modality's name.
"""
from vega_mm.datasets.splits import make_val_split as split_train_val  # former name
from .audio import OPENSMILE_FEATURE_SETS, OpenSmileExtractor
from .base import (BaseFeatureExtractor, build_extractor, extractor_class,
                   register_extractor, registered_modalities)
from .conversations import (DISCOVER_CLASSES, ConversationTables, TableSpec, load_tables,
                            meld_tables)
from .extract import extract_features
from .media import MediaError, load_audio_segment, sample_video_frames
from .parts import PartStore
from .speakers import OTHER_SPEAKER, speaker_key
from .standardize import apply_feature_stats, compute_feature_stats
from .table import (ConversationTableError, Dialogue, Utterance,
                    build_speaker_map, decode_table_bytes, group_dialogues, parse_time,
                    read_conversation_table)
from .text import (DEFAULT_TEXT_MODEL, TextFeatureExtractor, default_text_model,
                   finetune_text_encoder)
from .visual import VisualFeatureExtractor

__all__ = [
    'extract_features', 'load_tables', 'meld_tables', 'TableSpec', 'ConversationTables',
    'PartStore', 'BaseFeatureExtractor', 'register_extractor',
    'extractor_class', 'build_extractor', 'registered_modalities',
    'TextFeatureExtractor', 'OpenSmileExtractor', 'VisualFeatureExtractor',
    'finetune_text_encoder', 'default_text_model', 'DEFAULT_TEXT_MODEL',
    'OPENSMILE_FEATURE_SETS', 'MediaError', 'load_audio_segment', 'sample_video_frames',
    'compute_feature_stats', 'apply_feature_stats',
    'ConversationTableError', 'Dialogue', 'Utterance', 'read_conversation_table',
    'group_dialogues', 'split_train_val', 'build_speaker_map', 'decode_table_bytes',
    'parse_time', 'DISCOVER_CLASSES', 'OTHER_SPEAKER', 'speaker_key'
]

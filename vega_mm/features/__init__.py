"""Raw conversations -> features: text, audio and visual extractors, and the resumable
pipeline writing native feature files (``tools/extract_features.py``)."""
from .audio import OPENSMILE_FEATURE_SETS, OpenSmileExtractor
from .extract import MODALITIES, ConversationTables, TableSpec, extract_features, load_tables
from .media import MediaError, load_audio_segment, sample_video_frames
from .standardize import apply_feature_stats, compute_feature_stats
from .table import (MELD_CLASSES, ConversationTableError, Dialogue, Utterance,
                    build_speaker_map, decode_table_bytes, group_dialogues, parse_time,
                    read_conversation_table, split_train_val)
from .text import (DEFAULT_TEXT_MODEL, TextFeatureExtractor, default_text_model,
                   finetune_text_encoder)
from .visual import VisualFeatureExtractor

__all__ = [
    'extract_features', 'load_tables', 'TableSpec', 'ConversationTables', 'MODALITIES',
    'TextFeatureExtractor', 'OpenSmileExtractor', 'VisualFeatureExtractor',
    'finetune_text_encoder', 'default_text_model', 'DEFAULT_TEXT_MODEL',
    'OPENSMILE_FEATURE_SETS', 'MediaError', 'load_audio_segment', 'sample_video_frames',
    'compute_feature_stats', 'apply_feature_stats', 'MELD_CLASSES',
    'ConversationTableError', 'Dialogue', 'Utterance', 'read_conversation_table',
    'group_dialogues', 'split_train_val', 'build_speaker_map', 'decode_table_bytes',
    'parse_time'
]

"""A tiny random Whisper in CTranslate2's format (a pytest plugin, registered in
tests/conftest.py): what the Whisper audio features and the ASR tests load instead of a
downloaded model.

The model has Whisper's shapes where the pipeline depends on them (80 mel bins, 1500
encoder positions of 20 ms) and is tiny elsewhere (width 16, one layer).
"""
from pathlib import Path

import pytest

#: The tiny model's encoder width (its feature dimension with ``pooling='mean'``).
TINY_WHISPER_DIM = 16


def save_tiny_whisper(folder: Path) -> str:
    """Build a random Whisper (seeded) with transformers and convert it with
    CTranslate2's converter into ``folder/ct2`` (``model.bin``, ``config.json``,
    ``vocabulary.json``); returns that folder."""
    pytest.importorskip('ctranslate2')
    pytest.importorskip('faster_whisper')
    import torch
    from ctranslate2.converters import TransformersConverter
    from transformers import WhisperConfig, WhisperForConditionalGeneration
    cfg = WhisperConfig(vocab_size=51865, d_model=TINY_WHISPER_DIM, encoder_layers=1,
                        decoder_layers=1, encoder_attention_heads=2,
                        decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
                        num_mel_bins=80, max_source_positions=1500,
                        max_target_positions=448)
    state = torch.random.get_rng_state()
    torch.manual_seed(0)
    try:
        WhisperForConditionalGeneration(cfg).save_pretrained(str(folder / 'hf'))
    finally:
        torch.random.set_rng_state(state)
    out = folder / 'ct2'
    try:
        TransformersConverter(str(folder / 'hf')).convert(str(out), force=True)
    except TypeError as exc:  # e.g. a converter passing dtype= to transformers < 4.56
        import ctranslate2
        import transformers
        pytest.skip(f'ctranslate2 {ctranslate2.__version__} cannot convert with '
                    f'transformers {transformers.__version__} ({exc})')
    return str(out)


@pytest.fixture(scope='session')
def tiny_whisper_model(tmp_path_factory) -> str:
    """The folder of a tiny random Whisper in CTranslate2's format."""
    return save_tiny_whisper(tmp_path_factory.mktemp('tiny_whisper'))

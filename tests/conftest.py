"""Test-wide settings and the fixtures several test folders share."""
import os

import pytest
import torch

# The models in the tests are tiny: one thread is faster than several, and it keeps
# parallel test runs on small machines from fighting over cores.
torch.set_num_threads(1)
os.environ.setdefault('OMP_NUM_THREADS', '1')

# Face images and random CLIP encoders, shared by tests/test_encoders and tests/test_anchors,
# and a tiny random Whisper (defined once, so each session-wide model is built once).
pytest_plugins = ['tests.image_fixtures', 'tests.whisper_fixtures']

# Text encoders come from local folders only: a test never downloads.
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_OFFLINE', '1')


@pytest.fixture(scope='session')
def tiny_text_model(tmp_path_factory) -> str:
    """A randomly initialised 1-layer BERT (hidden 16) and its WordPiece tokenizer,
    saved with ``save_pretrained`` like a real local model directory."""
    from tests.utils import save_tiny_text_model
    return save_tiny_text_model(tmp_path_factory.mktemp('tiny_bert'))

"""Fixtures shared by the image-encoder and anchor tests (a pytest plugin, registered
once in tests/conftest.py so the session-wide models are built once): the real FER2013
faces, and random CLIP weights saved to local files.

Real weights cannot be downloaded in CI, so every encoder is tested the way a user runs
it with real weights: a model is saved to a local file (or directory) and loaded back
through the encoder's weights path.  One random ViT-B-32 per library is built per test
session and shared.
"""
import warnings
from pathlib import Path
from typing import Dict, List

import pytest
import torch
from PIL import Image

FACES_DIR = Path(__file__).parents[1].parent / 'shared' / 'data' / 'faces'
FER_CLASSES = ('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise')


@pytest.fixture(scope='session')
def faces_dir() -> Path:
    """../shared/data/faces: 12 FER2013 faces for each of 7 classes."""
    if not FACES_DIR.is_dir():
        pytest.skip(f'shared face images not found at {FACES_DIR} (see '
                    '../shared/data/README.md)')
    return FACES_DIR


@pytest.fixture(scope='session')
def face_paths(faces_dir: Path) -> Dict[str, List[Path]]:
    return {d.name: sorted(d.glob('*.jpg')) for d in sorted(faces_dir.iterdir()) if d.is_dir()}


@pytest.fixture(scope='session')
def sample_images(face_paths) -> List[Image.Image]:
    """6 real face images of 6 classes (grayscale JPEGs, as on disk)."""
    paths = [face_paths[cls][0] for cls in sorted(face_paths)][:6]
    return [Image.open(p) for p in paths]


@pytest.fixture(scope='session')
def open_clip_pair(tmp_path_factory):
    """(in-memory random ViT-B-32 encoder, its weights saved as .safetensors, warnings)."""
    pytest.importorskip('open_clip')
    from safetensors.torch import save_file

    from vega_mm.encoders import OpenCLIPImageEncoder
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        memory = OpenCLIPImageEncoder('ViT-B-32', pretrained=None, device='cpu')
    path = tmp_path_factory.mktemp('open_clip') / 'vit_b32_random.safetensors'
    save_file(memory.model.state_dict(), str(path))
    return memory, path, [str(w.message) for w in caught]


@pytest.fixture(scope='session')
def open_clip_encoder(open_clip_pair):
    """The random ViT-B-32 loaded back through the weights-file path (built from a config,
    as tools and configs do)."""
    from vega_mm.encoders import build_image_encoder
    return build_image_encoder(dict(type='open_clip', model_name='ViT-B-32',
                                    pretrained=str(open_clip_pair[1]), device='cpu'))


@pytest.fixture(scope='session')
def hf_clip_dir(tmp_path_factory):
    """(in-memory random CLIPModel with a ViT-B/32 image tower, its save_pretrained dir)."""
    pytest.importorskip('transformers')
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel
    cfg = CLIPConfig(
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=224, patch_size=32),
        # the text tower is unused by the image encoder: keep it tiny
        text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                         num_attention_heads=2),
        projection_dim=512)
    torch.manual_seed(0)
    model = CLIPModel(cfg).eval()
    path = tmp_path_factory.mktemp('hf_clip') / 'clip_vit_b32_random'
    model.save_pretrained(str(path))
    CLIPImageProcessor(size={'shortest_edge': 224},
                       crop_size={'height': 224, 'width': 224}).save_pretrained(str(path))
    return model, path

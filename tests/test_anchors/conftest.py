"""Shared fixtures: the real FER2013 faces, random CLIP weights saved to local files.

Real weights cannot be downloaded in CI, so every encoder is tested the way a user runs
it with real weights: a model is saved to a local file (or directory) and loaded back
through the encoder's weights path.  One random ViT-B-32 per library is built per test
session and shared.
"""
import os
import shutil
import warnings
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch
from PIL import Image

from vega_mm.anchors import ImageEncoder

FACES_DIR = Path(__file__).parents[2].parent / 'shared' / 'data' / 'faces'
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
def few_faces(face_paths, tmp_path_factory) -> Path:
    """A copy of the face folder with 2 images per class (fast builder tests)."""
    root = tmp_path_factory.mktemp('few_faces')
    for cls, paths in face_paths.items():
        (root / cls).mkdir()
        for p in paths[:2]:
            shutil.copy(p, root / cls / p.name)
    return root


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

    from vega_mm.anchors import OpenCLIPImageEncoder
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
    from vega_mm.anchors import build_image_encoder
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


class MeanColourEncoder(ImageEncoder):
    """A cheap deterministic stand-in for CLIP in builder tests: per-channel statistics."""

    def __init__(self) -> None:
        self.model = torch.nn.Identity()
        self.device = torch.device('cpu')
        self.dim = 6
        self.identity = dict(type='MeanColourEncoder', model='mean-colour', weights=None,
                             weights_sha256=None, random_init=False, dim=6)
        self.seen = 0

    def preprocess(self, images):
        arr = [torch.from_numpy(np.asarray(im.resize((32, 32)), dtype=np.float32)) / 255.
               for im in images]
        return torch.stack(arr).permute(0, 3, 1, 2)

    def forward_features(self, pixels):
        self.seen += pixels.shape[0]
        return torch.cat([pixels.mean((2, 3)), pixels.std((2, 3))], dim=1) + 1e-3


@pytest.fixture
def colour_encoder() -> MeanColourEncoder:
    return MeanColourEncoder()


def write_image(path: Path, mode: str, size=(64, 64), seed: int = 0) -> Path:
    """Write a random image of a PIL mode (L, RGB, RGBA, I;16, P) to ``path``."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode == 'I;16':
        arr = rng.integers(0, 65535, size[::-1], dtype=np.uint16)
        Image.fromarray(arr).save(path)
        return path
    rgba = Image.fromarray(rng.integers(0, 255, size[::-1] + (4,), dtype=np.uint8))
    img = rgba if mode == 'RGBA' else rgba.convert(mode)
    img.save(path)
    return path


@pytest.fixture
def messy_faces(face_paths, tmp_path) -> Path:
    """Faces folder with bad input: corrupt and truncated JPEGs, a text file, a hidden
    file, grayscale / RGBA / 16-bit / palette images, a nested subfolder."""
    root = tmp_path / 'messy'
    for cls in ('happy', 'sad'):
        (root / cls).mkdir(parents=True)
        for p in face_paths[cls][:2]:
            shutil.copy(p, root / cls / p.name)
    good = face_paths['happy'][0].read_bytes()
    (root / 'happy' / 'truncated.jpg').write_bytes(good[:len(good) // 3])
    (root / 'happy' / 'garbage.jpg').write_bytes(b'\xff\xd8\xff\xe0' + os.urandom(300))
    (root / 'happy' / 'notes.txt').write_text('these are happy faces\n')
    (root / 'happy' / '.DS_Store').write_bytes(b'\x00\x01')
    write_image(root / 'sad' / 'gray.png', 'L')
    write_image(root / 'sad' / 'rgba.png', 'RGBA', seed=1)
    write_image(root / 'sad' / 'deep.png', 'I;16', seed=2)
    write_image(root / 'sad' / 'nested' / 'palette.png', 'P', seed=3)
    # a class whose only file is not an image
    (root / 'angry').mkdir()
    (root / 'angry' / 'readme.md').write_text('no faces here')
    return root

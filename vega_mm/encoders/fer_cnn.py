"""A small facial-expression CNN as an image encoder: real weights that pip installs.

The network of the ``what-the-face-classification`` package (MIT; trained on FER2013 and
CK+ for 7 basic emotions): three 3x3 convolutions (1 -> 28 -> 56 -> 112 channels, tanh,
2x2 max pooling) on a 48x48 grey image, then fully connected layers 1792 -> 2000 -> 304
-> 7.  The encoder's features are the 304-d penultimate layer (after its ReLU), so
anchors built with it carry what the network learned about expressions.

The architecture is written here (the package's own module imports ``pkg_resources`` and
runs a Haar face detector on every image); only its weight file is read, as tensors.
Faces are cropped by the anchor builder's detector when it is on, not by this encoder.
"""
import importlib.util
import os
from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from vega_mm.registry import ANCHOR_ENCODERS
from .base import (ImageEncoder, _default_device, _describe_mismatch, _read_state_dict,
                   _warn_random_init, file_sha256)

__all__ = ['FERCNNImageEncoder', 'FERCNN', 'FER_CNN_CLASSES']

#: The classes of the network's last layer, in its order.
FER_CNN_CLASSES = ('angry', 'disgust', 'fear', 'happy', 'sad', 'surprise', 'neutral')
_PACKAGE = 'what_the_face_classification'
_INSTALL = ('pip install "vega_mm[fer]" (or: pip install what-the-face-classification '
            '"opencv-python>=4.5,<5")')


class FERCNN(nn.Module):
    """The expression network; ``features`` gives the 304-d penultimate layer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 28, 3)
        self.conv2 = nn.Conv2d(28, 56, 3)
        self.conv3 = nn.Conv2d(56, 112, 3)
        self.fc1 = nn.Linear(112 * 4 * 4, 2000)
        self.fc2 = nn.Linear(2000, 304)
        self.fc3 = nn.Linear(304, len(FER_CNN_CLASSES))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Grey images [B, 1, 48, 48] in [0, 1] -> [B, 304]."""
        for conv in (self.conv1, self.conv2, self.conv3):
            x = F.max_pool2d(torch.tanh(conv(x)), 2)
        return F.relu(self.fc2(F.relu(self.fc1(x.flatten(1)))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits [B, 7] (order :data:`FER_CNN_CLASSES`)."""
        return self.fc3(self.features(x))


def package_weights() -> Optional[str]:
    """The weight file the ``what-the-face-classification`` package installed, or None
    (found without importing the package)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], 'active_model.pth')
    return path if os.path.isfile(path) else None


@ANCHOR_ENCODERS.register_module(name=['FERCNNImageEncoder', 'fer_cnn'])
class FERCNNImageEncoder(ImageEncoder):
    """Encode face images with the FER2013 + CK+ expression CNN (304-d).

    Args:
        weights: ``'package'`` (the file ``what-the-face-classification`` installs), a
            local state-dict file of :class:`FERCNN`, or ``None`` (random weights, for
            tests only; warns).
        device: ``'cuda'`` if available else ``'cpu'`` when ``None``.

    Preprocessing (the network's own): shorter side resized to 48, centre crop 48x48,
    grey, scaled to [0, 1].
    """

    MODEL_ARG = ''
    WEIGHTS_ARG = 'weights'

    def __init__(self, weights: Optional[str] = 'package',
                 device: Optional[Union[str, torch.device]] = None) -> None:
        from torchvision import transforms as T
        self.device = _default_device(device)
        model = FERCNN()
        path = None
        if weights is None:
            _warn_random_init('FERCNNImageEncoder')
        else:
            path = package_weights() if weights == 'package' else \
                os.path.abspath(os.fspath(weights))
            if path is None:
                raise FileNotFoundError(f'FERCNNImageEncoder: the package weights are not '
                                        f'installed: {_INSTALL}')
            if not os.path.isfile(path):
                raise FileNotFoundError(f'FERCNNImageEncoder: weights file {path!r} does '
                                        'not exist')
            self._load_weights(model, path)
        self.model = model.to(self.device).eval()
        self.transform = T.Compose([T.Resize(48), T.CenterCrop(48), T.Grayscale(),
                                    T.ToTensor()])
        self.dim = 304
        self.identity = dict(
            type='FERCNNImageEncoder', library='vega_mm (what-the-face-classification '
            'weights)', model='fer_cnn_48px', weights=path,
            weights_sha256=file_sha256(path) if path else None, random_init=path is None,
            dim=self.dim)

    @staticmethod
    def _load_weights(model: nn.Module, path: str) -> None:
        try:
            sd = _read_state_dict(path)
        except Exception as exc:  # noqa: BLE001 - re-raised naming the file
            raise ValueError(f'FERCNNImageEncoder: {path!r} cannot be read as a tensor-only '
                             f'state dict ({type(exc).__name__}: {exc})') from exc
        try:
            model.load_state_dict(sd, strict=True)
        except RuntimeError as exc:
            raise ValueError(f'FERCNNImageEncoder: {path!r} is not a state dict of the '
                             f'expression CNN: {_describe_mismatch(model.state_dict(), sd)}'
                             ) from exc

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.features(pixels)

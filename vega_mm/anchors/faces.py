"""Face detection and cropping before anchor encoding.

The default detector is OpenCV's Haar cascade: its weights ship inside the
``opencv-python`` 4.x wheel (``cv2.data.haarcascades``), so it works offline.  OpenCV 5
dropped the cascades, hence the ``opencv-python<5`` requirement.  Detectors are
registered in :data:`vega_mm.registry.FACE_DETECTORS`; any class with
``crop(image) -> (image, found)`` and ``config() -> dict`` can be configured instead.
"""
import os
from typing import Any, Dict, Mapping, Optional, Tuple, Union

import numpy as np
from PIL import Image

from vega_mm.registry import FACE_DETECTORS

__all__ = ['FaceDetector', 'HaarCascadeFaceDetector', 'build_face_detector']


class FaceDetector:
    """Interface: ``crop(image) -> (face image, whether a face was found)``."""

    def crop(self, image: Image.Image) -> Tuple[Image.Image, bool]:
        raise NotImplementedError

    def config(self) -> Dict[str, Any]:
        """Plain-Python description stored in anchor files."""
        raise NotImplementedError


def _import_cv2() -> Any:
    try:
        import cv2
    except ImportError as exc:
        raise ImportError(
            'HaarCascadeFaceDetector needs OpenCV 4: pip install "opencv-python>=4.5,<5" '
            '(or opencv-python-headless<5)') from exc
    if not hasattr(cv2, 'CascadeClassifier') or not hasattr(cv2, 'data'):
        raise ImportError(
            f'HaarCascadeFaceDetector: OpenCV {cv2.__version__} has no Haar cascades '
            '(OpenCV 5 removed cv2.CascadeClassifier and cv2.data.haarcascades); install '
            '"opencv-python>=4.5,<5" or configure another FACE_DETECTORS entry')
    return cv2


@FACE_DETECTORS.register_module(name=['HaarCascadeFaceDetector', 'haar'])
class HaarCascadeFaceDetector(FaceDetector):
    """Largest frontal face found by an OpenCV Haar cascade, with a margin.

    Args:
        cascade: a file name inside ``cv2.data.haarcascades`` (e.g.
            ``'haarcascade_frontalface_alt2.xml'``) or a path to a cascade XML file.
        scale_factor, min_neighbors, min_size: ``CascadeClassifier.detectMultiScale``
            parameters (``min_size`` in pixels, (width, height)).
        margin: fraction of the face box added on every side (clipped to the image), so
            the crop keeps the whole face as CLIP sees faces in its training data.
    """

    def __init__(self,
                 cascade: str = 'haarcascade_frontalface_default.xml',
                 scale_factor: float = 1.1,
                 min_neighbors: int = 5,
                 min_size: Tuple[int, int] = (30, 30),
                 margin: float = 0.2) -> None:
        cv2 = _import_cv2()
        path = cascade if os.path.isfile(cascade) else os.path.join(
            cv2.data.haarcascades, cascade)
        if not os.path.isfile(path):
            shipped = sorted(f for f in os.listdir(cv2.data.haarcascades)
                             if f.endswith('.xml'))
            raise FileNotFoundError(f'HaarCascadeFaceDetector: cascade {cascade!r} is neither '
                                    f'a file nor one shipped with OpenCV ({shipped})')
        try:
            self._classifier = cv2.CascadeClassifier(path)
        except Exception as exc:  # noqa: BLE001 - OpenCV raises cv2.error / SystemError
            raise ValueError(f'HaarCascadeFaceDetector: {path!r} is not a valid cascade file '
                             f'({type(exc).__name__}: {str(exc).strip()[:200]})') from exc
        if self._classifier.empty():
            raise ValueError(f'HaarCascadeFaceDetector: {path!r} is not a valid cascade file')
        if scale_factor <= 1.0:
            raise ValueError(f'scale_factor must be > 1, got {scale_factor}')
        if margin < 0:
            raise ValueError(f'margin must be >= 0, got {margin}')
        self._cv2 = cv2
        self.cascade = cascade
        self.scale_factor = float(scale_factor)
        self.min_neighbors = int(min_neighbors)
        self.min_size = (int(min_size[0]), int(min_size[1]))
        self.margin = float(margin)

    def detect(self, image: Image.Image) -> Optional[Tuple[int, int, int, int]]:
        """The largest face box ``(x, y, w, h)`` in pixels, or ``None``."""
        gray = np.asarray(image.convert('L'))
        gray = self._cv2.equalizeHist(gray)
        boxes = self._classifier.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=self.min_size)
        if len(boxes) == 0:
            return None
        x, y, w, h = max((tuple(int(v) for v in b) for b in boxes), key=lambda b: b[2] * b[3])
        return x, y, w, h

    def crop(self, image: Image.Image) -> Tuple[Image.Image, bool]:
        """Crop the largest face plus margin; ``(image, False)`` when no face is found."""
        box = self.detect(image)
        if box is None:
            return image, False
        x, y, w, h = box
        dx, dy = self.margin * w, self.margin * h
        left, top = max(0, int(round(x - dx))), max(0, int(round(y - dy)))
        right = min(image.width, int(round(x + w + dx)))
        bottom = min(image.height, int(round(y + h + dy)))
        return image.crop((left, top, right, bottom)), True

    def config(self) -> Dict[str, Any]:
        return dict(type='HaarCascadeFaceDetector', cascade=self.cascade,
                    scale_factor=self.scale_factor, min_neighbors=self.min_neighbors,
                    min_size=list(self.min_size), margin=self.margin)

    def __repr__(self) -> str:
        return f'HaarCascadeFaceDetector({self.config()})'


def build_face_detector(
        cfg: Union[None, Mapping[str, Any], FaceDetector]) -> Optional[FaceDetector]:
    """Build a face detector from a config dict; ``None`` passes through (no detection)."""
    if cfg is None or isinstance(cfg, FaceDetector):
        return cfg
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(f"face detector config must be a dict with a 'type' key, got {cfg!r}")
    if FACE_DETECTORS.get(cfg['type']) is None:
        raise KeyError(f"unknown face detector type {cfg['type']!r}; registered: "
                       f'{sorted(FACE_DETECTORS.module_dict)}')
    return FACE_DETECTORS.build(dict(cfg))

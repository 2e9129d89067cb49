"""Face detection and cropping with OpenCV's bundled Haar cascades."""
import numpy as np
import pytest
from PIL import Image

from vega_mm.anchors import HaarCascadeFaceDetector, build_face_detector
from vega_mm.registry import FACE_DETECTORS

pytest.importorskip('cv2')


@pytest.fixture(scope='module')
def detector() -> HaarCascadeFaceDetector:
    return HaarCascadeFaceDetector()


def test_real_faces_are_found_and_cropped(detector, face_paths):
    # FER2013 images are already tight face crops (48 px upscaled to 224): the cascade
    # finds most, not all, of them.
    results = []
    for cls in sorted(face_paths):
        for path in face_paths[cls][:3]:
            image = Image.open(path).convert('RGB')
            crop, found = detector.crop(image)
            assert isinstance(crop, Image.Image) and isinstance(found, bool)
            assert crop.mode == 'RGB'
            assert crop.width <= image.width and crop.height <= image.height
            if not found:
                assert crop is image
            results.append(found)
    assert sum(results) >= len(results) // 2, f'faces found in {sum(results)}/{len(results)}'


def test_crop_is_largest_face_plus_margin(detector, face_paths):
    # a face pasted on a larger canvas: the crop is the face box widened by the margin
    face = next(Image.open(p).convert('RGB') for cls in ('happy', 'neutral', 'angry')
                for p in face_paths[cls] if detector.detect(Image.open(p).convert('RGB')))
    canvas = Image.new('RGB', (600, 500), (128, 128, 128))
    canvas.paste(face, (300, 150))
    box = detector.detect(canvas)
    assert box is not None
    x, y, w, h = box
    assert 300 <= x and x + w <= 524 and 150 <= y and y + h <= 374
    crop, found = detector.crop(canvas)
    assert found
    assert crop.size == (round(x + w * 1.2) - round(x - 0.2 * w),
                         round(y + h * 1.2) - round(y - 0.2 * h))
    no_margin = HaarCascadeFaceDetector(margin=0.0)
    assert no_margin.crop(canvas)[0].size == (w, h)


def test_noise_has_no_face_and_falls_back(detector):
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (224, 224, 3),
                                                              dtype=np.uint8))
    crop, found = detector.crop(noise)
    assert found is False and crop is noise
    blank = Image.new('RGB', (100, 80), 'white')
    assert detector.crop(blank) == (blank, False)


def test_registry_config_and_errors(tmp_path):
    assert FACE_DETECTORS.get('HaarCascadeFaceDetector') is HaarCascadeFaceDetector
    det = build_face_detector(dict(type='haar', cascade='haarcascade_frontalface_alt2.xml',
                                   margin=0.1))
    assert isinstance(det, HaarCascadeFaceDetector)
    assert det.config() == dict(type='HaarCascadeFaceDetector',
                                cascade='haarcascade_frontalface_alt2.xml', scale_factor=1.1,
                                min_neighbors=5, min_size=[30, 30], margin=0.1)
    assert build_face_detector(det.config()).config() == det.config()
    assert build_face_detector(None) is None
    with pytest.raises(FileNotFoundError, match='haarcascade_frontalface_default.xml'):
        HaarCascadeFaceDetector(cascade='no_such_cascade.xml')
    bad = tmp_path / 'bad.xml'
    bad.write_text('<opencv_storage></opencv_storage>')
    with pytest.raises(ValueError, match='not a valid cascade'):
        HaarCascadeFaceDetector(cascade=str(bad))
    with pytest.raises(KeyError, match='registered'):
        build_face_detector(dict(type='RetinaFace'))

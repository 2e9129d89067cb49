"""Fixtures for the feature-extraction tests: a slice of the real MELD tables, a
generated wav, a generated video with a drawn face and a generated mp4 with a sound
track. The tiny local text encoder (``tiny_text_model``) is in ``tests/conftest.py``."""
import csv
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
import torch

MELD_DIR = Path(__file__).parents[2].parent / 'shared' / 'data' / 'meld'


@pytest.fixture(scope='session')
def meld_dir() -> Path:
    if not (MELD_DIR / 'train_sent_emo.csv').is_file():
        pytest.skip(f'shared MELD tables not found at {MELD_DIR} (see ../shared/data/README.md)')
    return MELD_DIR


def write_meld_slice(src: Path, dst: Path, dialogues: int) -> Path:
    """The rows of the first ``dialogues`` dialogue ids of a MELD table, header kept."""
    with open(src, encoding='utf-8', newline='') as f:
        rows = list(csv.reader(f))
    keep = [r for r in rows[1:] if int(r[5]) < dialogues]
    with open(dst, 'w', encoding='utf-8', newline='') as f:
        csv.writer(f).writerows([rows[0]] + keep)
    return dst


@pytest.fixture(scope='session')
def meld_slice(meld_dir, tmp_path_factory) -> Path:
    """A MELD-like folder: the first 20 train dialogues and 6 dev dialogues (real rows)."""
    root = tmp_path_factory.mktemp('meld_slice')
    write_meld_slice(meld_dir / 'train_sent_emo.csv', root / 'train_sent_emo.csv', 20)
    write_meld_slice(meld_dir / 'dev_sent_emo.csv', root / 'dev_sent_emo.csv', 6)
    return root


@pytest.fixture(scope='session')
def meld_like(tmp_path_factory) -> Path:
    """A MELD-layout folder the tests write (20 train and 6 dev dialogues of synthetic
    rows), for tests that need no real text and must run without the shared data."""
    from tests.utils import write_meld_like_table
    root = tmp_path_factory.mktemp('meld_like')
    write_meld_like_table(root / 'train_sent_emo.csv', 20)
    write_meld_like_table(root / 'dev_sent_emo.csv', 6, seed=1)
    return root


def write_wav(path: Path, seconds: float = 2.0, sr: int = 16000, freq: float = 220.,
              seed: int = 0) -> Path:
    """A sine tone with noise (mono, 16-bit PCM)."""
    import soundfile as sf
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    x = 0.3 * np.sin(2 * np.pi * freq * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
    x = x + 0.02 * rng.standard_normal(len(t))
    sf.write(str(path), x.astype(np.float32), sr, subtype='PCM_16')
    return path


def draw_face_frame(k: int, size=(160, 120)) -> np.ndarray:
    """A BGR frame with a drawn face (skin ellipse, eyes, brows, nose, mouth) whose
    position and mouth change with ``k``, on a grey background."""
    import cv2
    w, h = size
    img = np.full((h, w, 3), 90, np.uint8)
    cx, cy = w // 2 + (k % 5) - 2, h // 2
    cv2.ellipse(img, (cx, cy), (34, 44), 0, 0, 360, (150, 180, 220), -1)
    for dx in (-13, 13):
        cv2.circle(img, (cx + dx, cy - 10), 5, (40, 40, 40), -1)
        cv2.line(img, (cx + dx - 7, cy - 20), (cx + dx + 7, cy - 20), (30, 30, 30), 2)
    cv2.line(img, (cx, cy - 4), (cx, cy + 8), (110, 130, 170), 2)
    cv2.ellipse(img, (cx, cy + 20), (14, 3 + k % 6), 0, 0, 180, (40, 40, 120), -1)
    return img


def write_video(path: Path, seconds: float = 2.0, fps: int = 10) -> Path:
    """An MJPG .avi of the drawn face, its frame brightness rising with time."""
    import cv2
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), fps, (160, 120))
    if not writer.isOpened():
        pytest.skip('OpenCV cannot write MJPG video here')
    for k in range(int(seconds * fps)):
        frame = draw_face_frame(k)
        frame[:10] = 12 * k  # a time stamp the tests can read back
        writer.write(frame)
    writer.release()
    return path


def tone_change(seconds: float = 2.4, sr: int = 16000, change_at: float = 1.2,
                freqs=(330., 880.)) -> np.ndarray:
    """A tone at ``freqs[0]`` Hz that switches to ``freqs[1]`` Hz at ``change_at`` s."""
    t = np.arange(int(round(seconds * sr))) / sr
    f = np.where(t < change_at, freqs[0], freqs[1])
    return (0.4 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def write_av_video(path: Path, seconds: float = 2.4, fps: int = 10, sr: int = 16000,
                   audio: bool = True, audio_codec: str = 'aac') -> Path:
    """A video (MPEG-4 part 2, frame brightness rising with time) written with PyAV, with
    a stereo track of :func:`tone_change` (AAC by default) unless ``audio=False``."""
    from fractions import Fraction

    import av
    container = av.open(str(path), mode='w')
    video = container.add_stream('mpeg4', rate=fps)
    video.width, video.height, video.pix_fmt = 64, 48, 'yuv420p'
    streams = [video]
    if audio:
        streams.append(container.add_stream(audio_codec, rate=sr, layout='stereo'))
    for k in range(int(round(seconds * fps))):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * k, np.uint8),
                                           format='rgb24')
        frame.pts = k
        container.mux(video.encode(frame))
    if audio:
        x = tone_change(seconds, sr)
        for i in range(0, len(x), 1024):
            block = np.ascontiguousarray(np.stack([x[i:i + 1024]] * 2))
            frame = av.AudioFrame.from_ndarray(block, format='fltp', layout='stereo')
            frame.sample_rate, frame.pts, frame.time_base = sr, i, Fraction(1, sr)
            container.mux(streams[1].encode(frame))
    for stream in streams:
        container.mux(stream.encode())  # flush the encoders
    container.close()
    return path


@pytest.fixture
def av_video_file(tmp_path) -> Path:
    pytest.importorskip('av')
    return write_av_video(tmp_path / 'talk.mp4')


@pytest.fixture
def wav_file(tmp_path) -> Path:
    return write_wav(tmp_path / 'tone.wav')


@pytest.fixture
def video_file(tmp_path) -> Path:
    return write_video(tmp_path / 'face.avi')


class StubImageEncoder:
    """Stands in for the anchor builder's CLIP encoder: mean RGB and brightness of the
    image, L2-normalised (``.dim``/``.encode`` like ``vega_mm.anchors`` encoders)."""
    dim = 4
    identity = dict(type='StubImageEncoder', weights_sha256='stub', dim=4)

    def __init__(self) -> None:
        self.calls: List[int] = []

    def encode(self, images, batch_size: int = 32, progress: bool = False) -> torch.Tensor:
        self.calls.append(len(images))
        feats = []
        for im in images:
            a = np.asarray(im.convert('RGB'), dtype=np.float32) / 255.
            feats.append([a[..., 0].mean(), a[..., 1].mean(), a[..., 2].mean(),
                          a[:10].mean()])
        return torch.nn.functional.normalize(torch.tensor(feats), dim=-1)


@pytest.fixture
def stub_encoder() -> StubImageEncoder:
    return StubImageEncoder()


def read_rows(path: Path) -> List[Dict[str, str]]:
    with open(path, encoding='utf-8', newline='') as f:
        return list(csv.DictReader(f))

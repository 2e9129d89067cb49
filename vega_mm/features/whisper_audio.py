"""Audio features from the Whisper encoder: its frame states pooled over the utterance.

Each utterance's segment is read at 16 kHz, turned into Whisper's log-mel features
(faster-whisper's ``FeatureExtractor``) and cut into 30 s windows, each padded to 30 s
(3000 mel frames) as Whisper expects; the CTranslate2 encoder gives 1500 states of 20 ms
per window, and only the states that cover the segment are pooled (the padding is not),
so a short utterance is described by its own sound.  Whisper base gives 512-d features
(``'mean'``) or 1024-d ones (``'mean_std'``).

Needs ``ctranslate2`` and ``faster-whisper`` (``pip install 'vega_mm[asr]'``, which also
installs Whisper base for offline use, see :mod:`vega_mm.encoders.whisper`).
"""
import inspect
import json
import math
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from vega_mm.conversations import Utterance
from vega_mm.encoders.whisper import asr_model_identity, resolve_asr_model
from vega_mm.speech.media import MediaError, load_audio_segment
from .audio import OpenSmileExtractor
from .base import BaseFeatureExtractor, register_extractor

__all__ = ['WhisperAudioExtractor', 'WHISPER_POOLINGS']

#: Accepted ``pooling`` values.
WHISPER_POOLINGS = ('mean', 'mean_std')
_SR = 16000             # Whisper's sampling rate
_WINDOW = 30            # seconds per encoder window
_FRAME = 0.02           # seconds per encoder state (two 10 ms mel frames)
_ASR_INSTALL = "pip install 'vega_mm[asr]'"


def _import_backends():
    """``(ctranslate2, faster_whisper)``, or an ImportError naming the install command."""
    try:
        import ctranslate2
        import faster_whisper.audio  # noqa: F401
        import faster_whisper.feature_extractor  # noqa: F401
    except ImportError as exc:
        raise ImportError(f'Whisper audio features need ctranslate2 and faster-whisper '
                          f'({exc}); install them with {_ASR_INSTALL}') from exc
    import faster_whisper
    return ctranslate2, faster_whisper


def _model_folder(model: str) -> str:
    """A local folder for a resolved model (a name is fetched by faster-whisper)."""
    if os.path.isdir(model):
        return model
    from faster_whisper.utils import download_model
    try:
        return download_model(model)
    except Exception as exc:  # noqa: BLE001 (hub, network and name errors alike)
        raise OSError(f'Whisper model {model!r} is neither a local folder nor could it be '
                      f'fetched ({type(exc).__name__}: {exc}); give a folder in '
                      "CTranslate2 format, or 'base' with " + _ASR_INSTALL) from exc


def _feature_kwargs(folder: str, n_mels: int) -> Dict[str, Any]:
    """``FeatureExtractor`` arguments: the model's ``preprocessor_config.json`` when it
    has one (as faster-whisper reads it), else the model's number of mel bins."""
    from faster_whisper.feature_extractor import FeatureExtractor
    path = os.path.join(folder, 'preprocessor_config.json')
    if not os.path.isfile(path):
        return dict(feature_size=int(n_mels))
    with open(path, encoding='utf-8') as f:
        config = json.load(f)
    valid = inspect.signature(FeatureExtractor.__init__).parameters
    return {k: v for k, v in config.items() if k in valid and k != 'self'}


def resample(signal: np.ndarray, sr: int) -> np.ndarray:
    """Mono float32 samples at ``sr`` Hz -> at 16 kHz (polyphase filter)."""
    if sr == _SR:
        return signal
    from scipy.signal import resample_poly
    g = math.gcd(_SR, int(sr))
    return resample_poly(signal, _SR // g, int(sr) // g).astype(np.float32)


def pool_states(states: np.ndarray, pooling: str) -> np.ndarray:
    """Encoder states [T, D] -> float32 [D] (``'mean'``) or [2D] (``'mean_std'``)."""
    states = states.astype(np.float64)
    mean = states.mean(0)
    if pooling == 'mean':
        return mean.astype(np.float32)
    return np.concatenate([mean, states.std(0)]).astype(np.float32)


@register_extractor()
class WhisperAudioExtractor(BaseFeatureExtractor):
    """Whisper encoder states pooled over each utterance's segment (one vector each).

    Args:
        model: ``None``/``'base'`` (Whisper base, from its pip packages), a folder in
            CTranslate2 format, or a name faster-whisper fetches
            (:func:`~vega_mm.encoders.whisper.resolve_asr_model`).
        pooling: ``'mean'`` (the mean of the states covering the segment, ``D``-d) or
            ``'mean_std'`` (their mean and standard deviation, ``2D``-d).
        device: ``'cpu'``, ``'cuda'`` (or ``'cuda:1'``) or ``'auto'`` (CUDA if
            CTranslate2 finds a GPU).
        compute_type: CTranslate2 computation type (``'default'``: the model's own,
            ``'int8'``, ``'float32'``, ``'float16'`` on GPU...); it changes the values
            slightly, so the type used is recorded.
        cpu_threads: CTranslate2 threads on CPU (0: its default).
        batch_size: 30 s windows encoded together.
        tolerance: seconds a segment end may pass the end of its file.
        min_duration: shorter segments are an error.

    Attributes:
        dim (int): ``D`` (``2D`` with ``'mean_std'``); Whisper base: 512.
        modality (str): ``'audio'``.
    """
    modality = 'audio'
    needs_media = True
    runtime_settings = ('device', 'batch_size', 'cpu_threads')

    def __init__(self, model: Optional[str] = None, pooling: str = 'mean',
                 device: str = 'cpu', compute_type: str = 'default', cpu_threads: int = 0,
                 batch_size: int = 8, tolerance: float = 0.1,
                 min_duration: float = 0.1) -> None:
        if pooling not in WHISPER_POOLINGS:
            raise ValueError(f'Whisper audio pooling must be one of {WHISPER_POOLINGS}, got '
                             f'{pooling!r}')
        if int(batch_size) < 1:
            raise ValueError(f'Whisper audio batch_size must be >= 1, got {batch_size!r}')
        ctranslate2, _ = _import_backends()
        from faster_whisper.feature_extractor import FeatureExtractor
        self.model_name = resolve_asr_model(model)
        self.folder = _model_folder(self.model_name)
        self.identity = asr_model_identity(self.folder)
        self.pooling = pooling
        self.device = device
        self.batch_size = int(batch_size)
        self.tolerance = float(tolerance)
        self.min_duration = float(min_duration)
        kind, _, index = str(device).partition(':')  # 'cuda:1', as torch writes it
        self.model = ctranslate2.models.Whisper(self.folder, device=kind,
                                                device_index=int(index or 0),
                                                compute_type=compute_type,
                                                intra_threads=int(cpu_threads))
        self.compute_type = str(self.model.compute_type)  # what 'default' resolved to
        self.feature_kwargs = _feature_kwargs(self.folder, self.model.n_mels)
        self.features = FeatureExtractor(**self.feature_kwargs)
        self.n_mels = int(self.features.mel_filters.shape[0])
        self.window_frames = _WINDOW * _SR // self.features.hop_length  # 3000 mel frames
        width = int(self._encode([np.zeros((self.n_mels, self.window_frames),
                                           np.float32)]).shape[-1])
        self.dim = width * (2 if pooling == 'mean_std' else 1)

    @classmethod
    def settings(cls, cfg: Mapping[str, Any]) -> Dict[str, Any]:
        """Defaults filled in, and the model resolved (``'base'`` -> its folder)."""
        out = super().settings(cfg)
        out['model'] = resolve_asr_model(out.get('model'))
        return out

    @classmethod
    def usable(cls, utterances: Sequence[Utterance]) -> bool:
        """Audio files, or videos with a way to read their sound track."""
        return OpenSmileExtractor.usable(utterances)

    def config(self) -> Dict[str, Any]:
        """What identifies these features (compared when an extraction resumes and when
        a trained model's recipe is rebuilt): the model folder, its name and the SHA-256
        of its ``model.bin`` (``weights``), the pooling, the computation type used."""
        return dict(type=type(self).__name__, model=self.folder,
                    model_name=self.identity['model'], weights=self.identity.get('sha256'),
                    pooling=self.pooling, compute_type=self.compute_type,
                    feature_size=self.n_mels, dim=self.dim,
                    tolerance=self.tolerance)

    def _encode(self, mels: Sequence[np.ndarray]) -> np.ndarray:
        """Windows of log-mel features [n_mels, 3000] -> encoder states [B, 1500, D]."""
        import ctranslate2
        batch = np.ascontiguousarray(np.stack(mels), dtype=np.float32)
        out = self.model.encode(ctranslate2.StorageView.from_array(batch), to_cpu=True)
        if out.dtype != ctranslate2.DataType.float32:  # float16/bfloat16 on a GPU
            out = out.to(ctranslate2.DataType.float32)
        return np.asarray(out, dtype=np.float32)

    def windows(self, signal: np.ndarray) -> List[Tuple[np.ndarray, int]]:
        """One 16 kHz segment -> its 30 s windows: ``(log-mel [n_mels, 3000], states)``
        with ``states`` the number of encoder states covering the sound (at least 1)."""
        mel = self.features(signal)
        duration = len(signal) / _SR
        out = []
        for k in range(max(1, math.ceil(duration / _WINDOW))):
            part = mel[:, k * self.window_frames:(k + 1) * self.window_frames]
            seconds = min(_WINDOW, duration - k * _WINDOW)
            states = min(self.window_frames // 2, max(1, math.ceil(seconds / _FRAME - 1e-9)))
            out.append((self._pad_or_trim(part), states))
        return out

    def _pad_or_trim(self, mel: np.ndarray) -> np.ndarray:
        from faster_whisper.audio import pad_or_trim
        return pad_or_trim(mel, self.window_frames)

    def extract_signals(self, signals: Iterable[np.ndarray]) -> np.ndarray:
        """16 kHz mono signals -> float32 [N, dim], ``batch_size`` windows at a time (the
        signals and their windows are made as the batches need them)."""
        states: List[List[np.ndarray]] = []
        batch: List[Tuple[int, np.ndarray, int]] = []

        def encode() -> None:
            for (i, _, n), h in zip(batch, self._encode([mel for _, mel, _ in batch])):
                states[i].append(h[:n])
            batch.clear()
        for i, signal in enumerate(signals):
            states.append([])
            for mel, n in self.windows(signal):
                batch.append((i, mel, n))
                if len(batch) == self.batch_size:
                    encode()
        if batch:
            encode()
        out = np.zeros((len(states), self.dim), dtype=np.float32)
        for i, s in enumerate(states):
            out[i] = pool_states(np.concatenate(s), self.pooling)
        return out

    def load(self, u: Utterance) -> np.ndarray:
        """An utterance's segment, mono float32 at 16 kHz.

        Raises:
            MediaError: no media, or a missing, unreadable or too short segment.
        """
        if u.media is None:
            raise MediaError(f'{u.source}: utterance has no media file')
        signal, sr = load_audio_segment(u.media, u.start, u.end, u.source, self.tolerance,
                                        self.min_duration)
        return resample(signal, sr)

    def extract(self, utterances: Sequence[Utterance]) -> np.ndarray:
        """Features of :class:`~vega_mm.conversations.Utterance` objects [N, dim]."""
        out = self.extract_signals(self.load(u) for u in utterances)
        if not np.isfinite(out).all():
            bad = utterances[int(np.flatnonzero(~np.isfinite(out).all(1))[0])]
            raise MediaError(f'{bad.source}: the Whisper encoder gave non-finite features')
        return out

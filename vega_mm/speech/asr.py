"""Speech recognition of one utterance with Whisper, run by ``faster-whisper``.

:class:`WhisperTranscriber` turns the samples of one utterance (float32, mono, 16 kHz,
as :class:`vega_mm.speech.segments.SpeechSegmenter` cuts them) into its text::

    transcriber = WhisperTranscriber('base', cpu_threads=2)
    text = transcriber.transcribe(samples)      # 'I can't believe you did that.'

The segments come from our own voice-activity detection, so faster-whisper's VAD is
off, and each utterance is decoded on its own (``condition_on_previous_text=False``):
the text of an utterance never depends on the previous one.  faster-whisper is imported
when a transcriber is built (``pip install 'vega_mm[asr]'``), so importing
:mod:`vega_mm.speech` works without it.
"""
from typing import Any, Dict, Optional

import numpy as np

from vega_mm.encoders.whisper import asr_model_identity, resolve_asr_model

__all__ = ['WhisperTranscriber', 'ASR_INSTALL', 'import_faster_whisper']

ASR_INSTALL = "pip install 'vega_mm[asr]'"


def import_faster_whisper():
    """The ``faster_whisper`` module.

    Raises:
        ImportError: faster-whisper is not installed (naming the install command).
    """
    try:
        import faster_whisper
    except ImportError as exc:
        raise ImportError('speech recognition and voice-activity detection need '
                          f'faster-whisper: {ASR_INSTALL}') from exc
    return faster_whisper


class WhisperTranscriber:
    """Whisper through faster-whisper, one utterance at a time.

    Args:
        model: what :func:`~vega_mm.encoders.whisper.resolve_asr_model` resolves:
            ``None``/``'base'`` (Whisper base from its packages), a local CTranslate2
            folder, or a faster-whisper model name.
        device: ``'cpu'``, ``'cuda'`` or ``'auto'``.
        compute_type: CTranslate2's weights type (``'int8'``, ``'float16'``, ...).
        cpu_threads: threads on the CPU (0: CTranslate2's default).
        language: a language code such as ``'en'``; ``None`` detects it per utterance.
        beam_size: beam search width.
    """

    def __init__(self, model: Optional[str] = None, device: str = 'cpu',
                 compute_type: str = 'int8', cpu_threads: int = 0,
                 language: Optional[str] = None, beam_size: int = 5) -> None:
        faster_whisper = import_faster_whisper()
        if int(beam_size) < 1:
            raise ValueError(f'WhisperTranscriber: beam_size must be >= 1, got {beam_size}')
        self.model_path = resolve_asr_model(model)
        self.compute_type = compute_type
        self.language = language
        self.beam_size = int(beam_size)
        self._model_identity: Optional[Dict[str, str]] = None  # hashing model.bin: once
        self.model = faster_whisper.WhisperModel(self.model_path, device=device,
                                                 compute_type=compute_type,
                                                 cpu_threads=int(cpu_threads))

    def transcribe(self, samples: np.ndarray) -> str:
        """The text of one utterance (``''`` when Whisper hears no words).

        Args:
            samples: float32 mono samples at 16 kHz, shape ``[T]``.

        Raises:
            ValueError: ``samples`` is not a one-dimensional array.
        """
        audio = np.asarray(samples, dtype=np.float32)
        if audio.ndim != 1:
            raise ValueError('WhisperTranscriber.transcribe: samples must be mono '
                             f'(one dimension), got shape {audio.shape}')
        if audio.size == 0:
            return ''
        segments, _ = self.model.transcribe(
            audio, language=self.language, beam_size=self.beam_size, vad_filter=False,
            condition_on_previous_text=False)
        return ' '.join(s.text.strip() for s in segments if s.text.strip()).strip()

    def identity(self) -> Dict[str, Any]:
        """What transcribes: the model (name and SHA-256 of a local ``model.bin``),
        ``compute_type``, ``language`` and ``beam_size``."""
        if self._model_identity is None:
            self._model_identity = asr_model_identity(self.model_path)
        return dict(self._model_identity, compute_type=self.compute_type,
                    language=self.language, beam_size=self.beam_size)

"""Speech: from the sound of a recording to who said what, and when.

- :mod:`.media`: decoding media files (an utterance's audio segment with soundfile or
  PyAV, :func:`open_audio_stream`: the one place a PyAV audio stream is opened,
  :func:`probe_media`), every failure a :class:`MediaError` naming the file.
- :mod:`.segments`: streamed decoding (:func:`read_audio_blocks`), voice-activity
  detection (:class:`SpeechSegmenter`, Silero VAD) and a recording's utterances
  (:func:`recording_utterances`); :func:`replay` plays a file as a live source.
- :mod:`.asr`: speech recognition of one utterance (:class:`WhisperTranscriber`, Whisper
  run by faster-whisper; its models are found by :mod:`vega_mm.encoders.whisper`).
- :mod:`.diarization`: who speaks when, by clustering voices (:func:`cluster_speakers`).

Libraries (PyAV, faster-whisper, onnxruntime, scikit-learn) are imported when they are
used, so ``import vega_mm.speech`` works without them.  The utterances these make are
raw conversations (:mod:`vega_mm.conversations`); their features are extracted by
:mod:`vega_mm.features`.
"""
from .asr import ASR_INSTALL, WhisperTranscriber
from .diarization import cluster_speakers, voice_profiles
from .media import (AUDIO_EXTENSIONS, VIDEO_EXTENSIONS, MediaError, is_audio, is_video,
                    load_audio_segment, open_audio_stream, probe_media)
from .segments import (SPEECH_SAMPLING_RATE, SpeechSegment, SpeechSegmenter,
                       TranscriptReport, read_audio_blocks, recording_segments,
                       recording_utterances, replay, transcribe_segments)

__all__ = [
    'MediaError', 'AUDIO_EXTENSIONS', 'VIDEO_EXTENSIONS', 'is_audio', 'is_video',
    'load_audio_segment', 'open_audio_stream', 'probe_media', 'SPEECH_SAMPLING_RATE',
    'SpeechSegment', 'SpeechSegmenter', 'TranscriptReport', 'read_audio_blocks',
    'recording_segments', 'transcribe_segments', 'recording_utterances', 'replay',
    'WhisperTranscriber', 'ASR_INSTALL', 'cluster_speakers', 'voice_profiles'
]

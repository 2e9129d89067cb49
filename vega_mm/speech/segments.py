"""From a recording to its utterances: streamed decoding, voice-activity detection and
speech recognition.

- :func:`read_audio_blocks` decodes any audio file or the audio track of a video with
  PyAV and yields float32 mono blocks at 16 kHz, never holding the whole file;
- :class:`SpeechSegmenter` is a streaming voice-activity detector (Silero VAD, the ONNX
  model faster-whisper ships): :meth:`~SpeechSegmenter.feed` takes samples in chunks of
  any size and returns the utterances that closed; its segments do not depend on how
  the audio is cut into chunks, so a file read in 30 s blocks and the same file fed live
  in 0.5 s chunks give the same segments, sample for sample;
- :func:`recording_segments`, :func:`transcribe_segments` and
  :func:`recording_utterances` turn a recording into ``{'start', 'end', 'text'}``
  utterances with a transcriber (:class:`vega_mm.speech.asr.WhisperTranscriber`);
- :func:`replay` plays a file as a live source (chunks at the pace they were recorded).

Times are seconds on the file's timeline (a sound track that starts after the container
begins is preceded by silence).
"""
import os
import time
from fractions import Fraction
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator, List, Optional, Tuple

import numpy as np

from .media import MediaError, frame_to_mono, open_audio_stream

__all__ = ['SPEECH_SAMPLING_RATE', 'SpeechSegment', 'SpeechSegmenter', 'TranscriptReport',
           'read_audio_blocks', 'recording_segments', 'transcribe_segments',
           'recording_utterances', 'replay']

#: The sampling rate of Silero VAD (as faster-whisper ships it) and of Whisper.
SPEECH_SAMPLING_RATE = 16000
_WINDOW = 512  # samples per VAD decision (32 ms), what Silero takes at 16 kHz
_CONTEXT = 64  # samples of the previous window Silero sees before each window
_SPLIT_SILENCE = 1536  # a pause of 96 ms where a too long utterance may be split (Silero)


def _frames(container, stream, path: str) -> Iterator:
    """The decoded frames of ``stream``, a decoding failure as a :class:`MediaError`."""
    decoded = container.decode(stream)
    while True:
        try:
            frame = next(decoded)
        except StopIteration:
            return
        except Exception as exc:  # noqa: BLE001 - re-raised with the file named
            codec = getattr(stream.codec_context, 'name', None) or 'unknown codec'
            raise MediaError(f'cannot decode the audio of {path!r} ({codec}; '
                             f'{type(exc).__name__}: {exc})') from exc
        yield frame


def _mono_samples(container, stream, path: str, rate: int) -> Iterator[np.ndarray]:
    """float32 mono pieces of ``stream`` at ``rate`` Hz: FFmpeg's resampler, run as a
    stream (its filter state carries over frames), then channels averaged."""
    import av  # open_audio_stream has imported it
    resampler, layout = None, None
    for frame in _frames(container, stream, path):
        if resampler is None:  # the silence before the track, a second at a time
            lead = _lead_samples(container, stream, frame, rate)
            yield from (np.zeros(min(rate, lead - i), np.float32) for i in range(0, lead, rate))
        if resampler is None or frame.layout.name != layout:
            if resampler is not None:  # the layout changed: drain the old resampler
                yield from (frame_to_mono(f) for f in resampler.resample(None))
            layout = frame.layout.name
            resampler = av.AudioResampler(format='fltp', layout=layout, rate=rate)
        frame.pts = None  # the samples follow one another; only the lead is placed by time
        try:
            out = resampler.resample(frame)
        except Exception as exc:  # noqa: BLE001
            raise MediaError(f'cannot resample the audio of {path!r} to {rate} Hz '
                             f'({type(exc).__name__}: {exc})') from exc
        yield from (frame_to_mono(f) for f in out)
    if resampler is not None:
        yield from (frame_to_mono(f) for f in resampler.resample(None))


def _lead_samples(container, stream, frame, rate: int) -> int:
    """Samples of silence before the first audio frame on the file's timeline (a track
    that starts after the container, e.g. after the video), so that times are the
    file's, as :func:`vega_mm.speech.media.load_audio_segment` reads them."""
    import av
    if frame.pts is None:
        return 0
    origin = Fraction(container.start_time or 0, av.time_base)
    lead = frame.pts * (frame.time_base or stream.time_base) - origin
    return max(int(round(lead * rate)), 0)


def read_audio_blocks(path: str, sampling_rate: int = SPEECH_SAMPLING_RATE,
                      block_seconds: float = 30.0) -> Iterator[np.ndarray]:
    """float32 mono blocks of ``block_seconds`` (the last one shorter) of an audio file or
    of a video's audio track, resampled to ``sampling_rate``.

    Every format FFmpeg decodes is read the same way (PyAV), so the samples do not depend
    on ``block_seconds``: blocks of any size concatenate to the same signal.  Memory holds
    one block, whatever the file's length.  Channels are averaged.  Sample 0 is the
    file's time 0: a track starting later begins with silence; the decoded samples then
    follow one another (gaps inside a track are not filled).

    Raises:
        MediaError: the file does not exist, cannot be opened (corrupt, not media), has no
            audio stream (a video without sound), or its audio cannot be decoded
            (unsupported codec, corrupt data); each names the file.
        ValueError: ``block_seconds`` or ``sampling_rate`` is not positive.
    """
    block = int(round(block_seconds * sampling_rate))
    if block <= 0 or sampling_rate <= 0:
        raise ValueError(f'read_audio_blocks: block_seconds ({block_seconds}) and '
                         f'sampling_rate ({sampling_rate}) must be positive')
    if not os.path.isfile(path):
        raise MediaError(f'media file {path!r} does not exist')
    with open_audio_stream(path) as (container, stream):
        pieces, held, total = [], 0, 0
        for piece in _mono_samples(container, stream, path, sampling_rate):
            pieces.append(piece)
            held += len(piece)
            total += len(piece)
            while held >= block:
                joined = np.concatenate(pieces)
                yield joined[:block]
                pieces, held = [joined[block:]], held - block
        if total == 0:
            raise MediaError(f'no audio could be decoded from {path!r}')
        if held:
            yield np.concatenate(pieces)


@dataclass
class SpeechSegment:
    """One utterance the voice-activity detection found.

    Attributes:
        start: seconds from the start of the recording, padding included.
        end: seconds, padding included.
        samples: float32 mono samples of ``[start, end)`` at 16 kHz (what the speech
            recogniser hears).
        probability: the mean speech probability of its speech windows (padding
            excluded), as Silero VAD gave them.
        speech_start: where the speech begins (seconds, padding excluded; the
            utterance's time); ``start`` when not given.
        speech_end: where it ends (seconds, padding excluded).
    """
    start: float
    end: float
    samples: np.ndarray = field(repr=False)
    probability: float = 1.0
    speech_start: Optional[float] = None
    speech_end: Optional[float] = None

    def __post_init__(self) -> None:
        if self.speech_start is None:
            self.speech_start = self.start
        if self.speech_end is None:
            self.speech_end = self.end

    @property
    def duration(self) -> float:
        return self.end - self.start


class SpeechSegmenter:
    """Streaming voice-activity detection with Silero VAD: samples in, utterances out.

    The model runs on consecutive 512-sample windows (32 ms at 16 kHz), one window per
    call, with the 64 samples before each window and the recurrent state carried from
    one window to the next; the decision is Silero's hysteresis, window by window:
    speech starts at a window whose probability reaches ``vad_threshold`` and ends at
    the first of at least ``min_silence_s`` of windows below ``vad_threshold - 0.15``.
    Windows, probabilities and decisions depend only on the samples, never on the sizes
    of the chunks :meth:`feed` gets.

    Only the open utterance's samples (and ``speech_pad_s`` before it) are kept, so a
    long silence or music costs no memory.

    Args:
        vad_threshold: speech probability that opens an utterance.
        min_silence_s: silence that closes an utterance.
        speech_pad_s: seconds added before and after each utterance (no more than
            ``min_silence_s``; an utterance never starts before the previous one ended).
        min_speech_s: utterances with less speech (padding excluded) are dropped.
        max_utterance_s: an utterance this long (padding included) is closed, at its
            last pause of at least 96 ms if it had one, and the speech goes on in a new
            one (Whisper reads 30 s at a time).
        sampling_rate: of the samples fed; Silero VAD as faster-whisper ships it takes
            16000 Hz only.
    """

    def __init__(self, vad_threshold: float = 0.5, min_silence_s: float = 0.5,
                 speech_pad_s: float = 0.2, min_speech_s: float = 0.25,
                 max_utterance_s: float = 30.0,
                 sampling_rate: int = SPEECH_SAMPLING_RATE) -> None:
        if sampling_rate != SPEECH_SAMPLING_RATE:
            raise ValueError(f'SpeechSegmenter: sampling_rate must be {SPEECH_SAMPLING_RATE} '
                             f'(Silero VAD), got {sampling_rate}; read_audio_blocks resamples')
        if not 0 < vad_threshold < 1:
            raise ValueError(f'SpeechSegmenter: vad_threshold must be in (0, 1), got '
                             f'{vad_threshold}')
        if min_silence_s <= 0 or min_speech_s < 0 or speech_pad_s < 0:
            raise ValueError('SpeechSegmenter: min_silence_s must be positive and '
                             'min_speech_s, speech_pad_s not negative')
        if speech_pad_s > min_silence_s:
            raise ValueError(f'SpeechSegmenter: speech_pad_s ({speech_pad_s}) must not exceed '
                             f'min_silence_s ({min_silence_s}): the padding after an '
                             'utterance is silence heard before it closes')
        if max_utterance_s < 2 * _WINDOW / sampling_rate + speech_pad_s:
            raise ValueError(f'SpeechSegmenter: max_utterance_s ({max_utterance_s}) is too '
                             'short')
        self.vad_threshold = float(vad_threshold)
        self.neg_threshold = max(self.vad_threshold - 0.15, 0.01)  # as Silero
        self.min_silence_s, self.speech_pad_s = float(min_silence_s), float(speech_pad_s)
        self.min_speech_s, self.max_utterance_s = float(min_speech_s), float(max_utterance_s)
        self.sampling_rate = int(sampling_rate)
        self._min_silence = int(round(min_silence_s * sampling_rate))
        self._pad = int(round(speech_pad_s * sampling_rate))
        self._min_speech = int(round(min_speech_s * sampling_rate))
        self._max = int(round(max_utterance_s * sampling_rate))
        self._session = None  # the ONNX session, made at the first window
        self.reset()

    def reset(self) -> None:
        """Start a new stream (time 0, no open utterance, fresh model state)."""
        self._h = np.zeros((1, 1, 128), dtype=np.float32)
        self._c = np.zeros((1, 1, 128), dtype=np.float32)
        self._context = np.zeros(_CONTEXT, dtype=np.float32)
        self._buf = np.zeros(0, dtype=np.float32)  # samples from _buf_start to _fed
        self._buf_start = 0
        self._fed = 0
        self._windows = 0  # windows decided so far
        self._start: Optional[int] = None  # speech start of the open utterance
        self._seg_start = 0  # where the open utterance's samples start (padding included)
        self._temp_end: Optional[int] = None  # first silent window of the open utterance
        self._probs: List[float] = []  # speech probabilities of the open utterance
        self._pause: Optional[Tuple[int, int]] = None  # last (silence start, speech again)
        self._prev_end = 0  # end of the last utterance returned
        self._ended = False

    @property
    def seconds(self) -> float:
        """Seconds of audio fed in this stream (or in the one :meth:`flush` ended)."""
        return self._fed / self.sampling_rate

    @property
    def open(self) -> bool:
        """Whether an utterance is open (speech heard and not yet closed)."""
        return self._start is not None

    def feed(self, chunk: np.ndarray) -> List[SpeechSegment]:
        """Add the next samples (float32 mono, any length); return the utterances that
        closed, in order.  After :meth:`flush`, a feed starts a new stream.

        Raises:
            ValueError: ``chunk`` is not one-dimensional, holds integers (PCM samples
                not scaled to [-1, 1]) or NaN/inf.
        """
        if np.ndim(chunk) > 1:
            raise ValueError(f'SpeechSegmenter.feed: chunk must be mono (one dimension), '
                             f'got shape {np.shape(chunk)}')
        if np.issubdtype(np.asarray(chunk).dtype, np.integer):
            raise ValueError(f'SpeechSegmenter.feed: chunk holds integers '
                             f'({np.asarray(chunk).dtype}); give float samples in [-1, 1] '
                             '(int16 samples: divide by 32768)')
        x = np.asarray(chunk, dtype=np.float32).reshape(-1)
        if not np.isfinite(x).all():
            raise ValueError('SpeechSegmenter.feed: chunk holds NaN or infinite samples')
        if self._ended:
            self.reset()
        self._buf = np.concatenate([self._buf, x])
        self._fed += len(x)
        out = []
        while (self._windows + 1) * _WINDOW <= self._fed:
            lo = self._windows * _WINDOW - self._buf_start
            out += self._step(self._probability(self._buf[lo:lo + _WINDOW]))
        self._trim()
        return out

    def flush(self) -> List[SpeechSegment]:
        """End of the input: decide the last partial window (zero-padded, as Silero
        does) and close the open utterance.  Returns the utterances that closed."""
        if self._ended:
            return []
        out = []
        lo = self._windows * _WINDOW
        if lo < self._fed:
            rest = self._buf[lo - self._buf_start:]
            out += self._step(self._probability(np.pad(rest, (0, _WINDOW - len(rest)))))
        if self._start is not None:
            end = self._temp_end if self._temp_end is not None else self._fed
            out += self._close(end, end + self._pad)
        self._buf = np.zeros(0, dtype=np.float32)
        self._buf_start = self._fed
        self._ended = True
        return out

    def _probability(self, window: np.ndarray) -> float:
        """Silero's speech probability of one window; the state moves one window on."""
        if self._session is None:
            self._session = _silero_session()
        x = np.concatenate([self._context, window])[None]
        prob, self._h, self._c = self._session.run(None, dict(input=x, h=self._h, c=self._c))
        self._context = window[-_CONTEXT:].copy()
        return float(np.asarray(prob).reshape(-1)[0])

    def _step(self, prob: float) -> List[SpeechSegment]:
        """The decision of the next window (Silero's hysteresis)."""
        cur = self._windows * _WINDOW
        self._windows += 1
        out = []
        if self._start is not None and cur + _WINDOW - self._seg_start > self._max:
            out += self._split(cur)
        if self._start is None:
            if prob >= self.vad_threshold:
                self._open(cur, [])
            else:
                return out
        self._probs.append(prob)
        if prob >= self.vad_threshold:
            if self._temp_end is not None and cur - self._temp_end >= _SPLIT_SILENCE \
                    and self._temp_end - self._start > self._min_speech:
                self._pause = (self._temp_end, cur)  # where a long utterance may split
            self._temp_end = None
        elif prob < self.neg_threshold:
            if self._temp_end is None:
                self._temp_end = cur
            if cur - self._temp_end >= self._min_silence:
                out += self._close(self._temp_end, self._temp_end + self._pad)
        return out

    def _open(self, start: int, probs: List[float]) -> None:
        self._start, self._temp_end, self._probs, self._pause = start, None, probs, None
        self._seg_start = max(start - self._pad, self._prev_end, 0)

    def _split(self, cur: int) -> List[SpeechSegment]:
        """Close an utterance that reached ``max_utterance_s`` before window ``cur``: at
        the silence it is in, else at its last pause (speech resuming in a new
        utterance, as Silero does), else right there."""
        if self._temp_end is not None or self._pause is None:
            end = self._temp_end if self._temp_end is not None else cur
            return self._close(end, min(end + self._pad, cur))
        end, resume = self._pause
        start, probs = self._start, self._probs
        out = self._close(end, min(end + self._pad, resume))
        self._open(resume, probs[(resume - start) // _WINDOW:])
        return out

    def _close(self, end: int, padded_end: int) -> List[SpeechSegment]:
        """Close the open utterance (speech up to ``end``, samples up to
        ``padded_end``); return it unless it has too little speech."""
        padded_end = min(padded_end, self._fed)
        seg = []
        if end - self._start > self._min_speech:
            samples = self._buf[self._seg_start - self._buf_start:
                                padded_end - self._buf_start].copy()
            sr = self.sampling_rate
            probs = self._probs[:-(-(end - self._start) // _WINDOW)]  # windows before end
            seg.append(SpeechSegment(self._seg_start / sr, padded_end / sr, samples,
                                     float(np.mean(probs)), self._start / sr, end / sr))
            self._prev_end = padded_end
        self._start, self._temp_end, self._probs, self._pause = None, None, [], None
        return seg

    def _trim(self) -> None:
        """Drop the samples no utterance can need any more."""
        decided = self._windows * _WINDOW
        keep = self._seg_start if self._start is not None else max(decided - self._pad, 0)
        if keep > self._buf_start:
            self._buf = self._buf[keep - self._buf_start:].copy()
            self._buf_start = keep


def _silero_session():
    """The ONNX session of the Silero VAD model faster-whisper ships."""
    from .asr import import_faster_whisper
    import_faster_whisper()
    from faster_whisper.vad import get_vad_model
    return get_vad_model().session


@dataclass
class TranscriptReport:
    """What :func:`transcribe_segments` saw.

    Attributes:
        segments: utterances the voice-activity detection found.
        empty: ``(start, end)`` of those whose transcript was empty (skipped).
        seconds: seconds of audio read (set by :func:`recording_utterances`).
    """
    segments: int = 0
    empty: List[Tuple[float, float]] = field(default_factory=list)
    seconds: float = 0.0

    def note(self) -> Optional[str]:
        """A line for the user about skipped segments, or None when none was skipped."""
        n = len(self.empty)
        if not n:
            return None
        return f'{n} segment{"s" if n > 1 else ""} of {self.segments} had no words (skipped)'


def recording_segments(path: str, segmenter: Optional[SpeechSegmenter] = None,
                       block_seconds: float = 30.0) -> Iterator[SpeechSegment]:
    """The utterances of a recording, read in blocks of ``block_seconds`` through
    ``segmenter`` (default settings when None; it is reset first)."""
    segmenter = SpeechSegmenter() if segmenter is None else segmenter
    segmenter.reset()
    for block in read_audio_blocks(path, segmenter.sampling_rate, block_seconds):
        yield from segmenter.feed(block)
    yield from segmenter.flush()


def transcribe_segments(segments: Iterable[SpeechSegment], transcriber,
                        report: Optional[TranscriptReport] = None) -> Iterator[dict]:
    """``{'start', 'end', 'text'}`` of each segment (the speech's times, padding
    excluded, in seconds rounded to the millisecond); segments whose transcript is empty
    are skipped and counted in ``report``.

    Args:
        transcriber: has ``transcribe(samples) -> str`` (e.g.
            :class:`~vega_mm.speech.asr.WhisperTranscriber`).
    """
    report = TranscriptReport() if report is None else report
    for seg in segments:
        report.segments += 1
        text = transcriber.transcribe(seg.samples).strip()
        start, end = round(seg.speech_start, 3), round(seg.speech_end, 3)
        if not text:
            report.empty.append((start, end))
            continue
        yield dict(start=start, end=end, text=text)


def recording_utterances(path: str, transcriber,
                         segmenter: Optional[SpeechSegmenter] = None,
                         report: Optional[TranscriptReport] = None) -> List[dict]:
    """The transcribed utterances of a recording, ``[{'start', 'end', 'text'}, ...]``,
    never empty.

    Raises:
        MediaError: the file cannot be read (see :func:`read_audio_blocks`).
        ValueError: no utterance was found (a silent or music-only recording), or none
            had words.
    """
    segmenter = SpeechSegmenter() if segmenter is None else segmenter
    report = TranscriptReport() if report is None else report
    out = list(transcribe_segments(recording_segments(path, segmenter), transcriber, report))
    report.seconds = segmenter.seconds
    if not out:
        if not report.segments:
            raise ValueError(f'{path}: no speech found (voice-activity detection found no '
                             f'utterance in {report.seconds:.1f} s of audio)')
        raise ValueError(f'{path}: no words found (voice-activity detection found '
                         f'{report.segments} utterance(s) in {report.seconds:.1f} s of audio '
                         'and speech recognition heard no words in any)')
    return out


def replay(path: str, chunk_seconds: float = 0.5, realtime: bool = True,
           sampling_rate: int = SPEECH_SAMPLING_RATE,
           clock: Callable[[], float] = time.monotonic,
           sleep: Callable[[float], None] = time.sleep) -> Iterator[Tuple[np.ndarray, float]]:
    """Play a recording as a live source: ``(chunk, arrival)`` pairs, where ``arrival`` is
    the recording time (seconds) of the chunk's end, the moment a live source would hand
    it over.  With ``realtime`` each chunk is yielded no earlier than ``arrival`` seconds
    after the first one was asked for; without it, as fast as they are decoded.

    Raises:
        MediaError: as :func:`read_audio_blocks`.
    """
    origin, done = None, 0
    for chunk in read_audio_blocks(path, sampling_rate, chunk_seconds):
        origin = clock() if origin is None else origin
        done += len(chunk)
        arrival = done / sampling_rate
        if realtime:
            wait = origin + arrival - clock()
            if wait > 0:
                sleep(wait)
        yield chunk, arrival

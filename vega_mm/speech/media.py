"""Decoding the sound of media files: an utterance's audio segment, a recording's streams.

Audio files are read with soundfile. The audio track of video files is decoded in-process
with PyAV (``pip install av``; its wheels bundle FFmpeg's libraries; :func:`open_audio_stream`
is the one place that opens it), or, without PyAV, with ``audiofile`` and an ``ffmpeg``
binary on PATH. Video frames are read by :mod:`vega_mm.features.frames`.

Every failure is a :class:`MediaError` naming the file, the table row and what was
expected, so the extraction can stop with a clear message or skip the dialogue and
report it (``on_missing_media='skip'``), never shift or zero-fill an utterance.
"""
import contextlib
import os
import shutil
from fractions import Fraction
from typing import Any, Dict, Iterator, Optional, Tuple

import numpy as np

__all__ = ['MediaError', 'AUDIO_EXTENSIONS', 'VIDEO_EXTENSIONS', 'is_video', 'is_audio',
           'ffmpeg_available', 'video_audio_backend', 'load_audio_segment',
           'check_segment', 'probe_media', 'open_audio_stream', 'frame_to_mono']

AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg', '.oga', '.aiff', '.aif', '.mp3', '.opus')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v', '.mpg', '.mpeg')


class MediaError(RuntimeError):
    """An utterance's media is missing, unreadable or shorter than its segment."""


def is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTENSIONS)


def is_audio(path: str) -> bool:
    return path.lower().endswith(AUDIO_EXTENSIONS)


#: Seconds decoded before a segment's start after a seek, so that decoders whose frames
#: depend on the previous ones (AAC, MP3, Opus) are settled when the segment begins.
_SEEK_PREROLL = 0.5

#: Full scale of integer sample formats (``'u8'`` is offset by 128).
_INT_SCALE = {'u8': 128., 's16': 32768., 's32': 2.**31, 's64': 2.**63}


def ffmpeg_available() -> bool:
    """Whether an ``ffmpeg`` binary is on PATH (the fallback for audio of videos)."""
    return shutil.which('ffmpeg') is not None


def _pyav_available() -> bool:
    try:
        import av  # noqa: F401
    except ImportError:
        return False
    return True


def video_audio_backend() -> Optional[str]:
    """How the audio track of video files is read: ``'pyav'`` (PyAV installed),
    ``'audiofile'`` (``audiofile`` installed and ``ffmpeg`` on PATH) or ``None``."""
    if _pyav_available():
        return 'pyav'
    if ffmpeg_available():
        try:
            import audiofile  # noqa: F401
        except ImportError:
            return None
        return 'audiofile'
    return None


def check_segment(path: str, where: str, duration: float, start: Optional[float],
                   end: Optional[float], tolerance: float) -> Tuple[float, float]:
    """The segment [start, end] in seconds, checked against the file's duration."""
    s = 0.0 if start is None else float(start)
    e = duration if end is None else float(end)
    if s >= duration:
        raise MediaError(f'{where}: segment starts at {s:.3f}s but {path!r} lasts only '
                         f'{duration:.3f}s')
    if e > duration + tolerance:
        raise MediaError(f'{where}: segment ends at {e:.3f}s but {path!r} lasts only '
                         f'{duration:.3f}s (media shorter than the stated segment)')
    return s, min(e, duration)


def load_audio_segment(path: str, start: Optional[float] = None, end: Optional[float] = None,
                       where: str = '', tolerance: float = 0.1,
                       min_duration: float = 0.05) -> Tuple[np.ndarray, int]:
    """Mono float32 samples of ``path`` between ``start`` and ``end`` seconds.

    Audio files are read with soundfile; the audio track of video files with PyAV
    (channels averaged, native sampling rate), else with ``audiofile`` and ``ffmpeg``
    (see :func:`video_audio_backend`).

    Args:
        tolerance: how far (seconds) ``end`` may pass the end of the file (rounding of
            time stamps); more is an error.
        min_duration: shorter segments are an error (their functionals are undefined).

    Returns:
        ``(samples [T], sampling_rate)``.

    Raises:
        MediaError: missing/unreadable file, segment outside the file, too short, a
            video without an audio stream or no way to decode it.
    """
    where = where or path
    if not os.path.isfile(path):
        raise MediaError(f'{where}: media file {path!r} does not exist')
    if is_video(path):
        backend = video_audio_backend()
        if backend == 'pyav':
            signal, sr = _read_video_audio_pyav(path, where, start, end, tolerance)
        elif backend == 'audiofile':
            signal, sr = _read_video_audio_audiofile(path, where, start, end, tolerance)
        else:
            raise MediaError(
                f'{where}: reading the audio track of video {path!r} needs PyAV '
                '(pip install av) or ffmpeg on PATH; install one, or extract wav files and '
                'point the table at them')
    else:
        import soundfile as sf
        try:
            info = sf.info(path)
        except Exception as exc:  # noqa: BLE001
            raise MediaError(f'{where}: cannot read audio file {path!r} '
                             f'({type(exc).__name__}: {exc})') from exc
        sr = int(info.samplerate)
        duration = info.frames / sr
        s, e = check_segment(path, where, duration, start, end, tolerance)
        first, last = int(round(s * sr)), min(int(round(e * sr)), info.frames)
        signal, _ = sf.read(path, start=first, stop=last, dtype='float32', always_2d=True)
        signal = signal.mean(1)
    if len(signal) < min_duration * sr:
        raise MediaError(f'{where}: audio segment of {path!r} is {len(signal) / sr:.3f}s '
                         f'long, shorter than {min_duration}s')
    return np.ascontiguousarray(signal, dtype=np.float32), int(sr)


def _read_video_audio_audiofile(path: str, where: str, start: Optional[float],
                                end: Optional[float], tolerance: float) -> Tuple[np.ndarray, int]:
    """The fallback without PyAV: ``audiofile``, which runs ``ffmpeg``."""
    try:
        import audiofile
        duration = float(audiofile.duration(path))
        s, e = check_segment(path, where, duration, start, end, tolerance)
        signal, sr = audiofile.read(path, offset=s, duration=e - s, always_2d=True)
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise MediaError(f'{where}: cannot read the audio of {path!r} '
                         f'({type(exc).__name__}: {exc})') from exc
    return np.asarray(signal, dtype=np.float32).mean(0), int(sr)


def frame_to_mono(frame) -> np.ndarray:
    """A decoded PyAV audio frame (any sample format) as float32 samples, channels
    averaged."""
    data = frame.to_ndarray()
    fmt = frame.format
    channels = len(frame.layout.channels) or 1
    if not fmt.is_planar:  # interleaved: [1, samples * channels]
        data = data.reshape(-1, channels).T
    name = fmt.name.rstrip('p')
    data = data.astype(np.float32)  # 24-bit integers are stored as s32
    if name == 'u8':
        data -= 128.
    if name in _INT_SCALE:
        data /= _INT_SCALE[name]
    return data.mean(0)


def _read_video_audio_pyav(path: str, where: str, start: Optional[float], end: Optional[float],
                           tolerance: float) -> Tuple[np.ndarray, int]:
    """The audio track of a video between ``start`` and ``end`` seconds, with PyAV.

    Times are on the file's timeline (0 = the container's start). Samples are placed by
    their time stamps, so the segment is cut to the sample whatever the decoder's frame
    size. A gap in the audio (e.g. a track starting a few ms after the video) is silence;
    audio starting after the segment start or ending before its end by more than
    ``tolerance`` is an error.
    """
    import av
    with open_audio_stream(path, where) as (container, stream):
        return _decode_segment(av, container, stream, path, where, start, end, tolerance)


def _decode_segment(av, container, stream, path: str, where: str, start: Optional[float],
                    end: Optional[float], tolerance: float) -> Tuple[np.ndarray, int]:
    """The body of :func:`_read_video_audio_pyav` on an open stream."""
    try:
        sr = int(stream.codec_context.sample_rate or 0)
        if sr <= 0:
            raise MediaError(f'{where}: the audio stream of {path!r} has no sampling rate')
        tb = stream.time_base
        origin = Fraction(container.start_time, av.time_base) \
            if container.start_time is not None else Fraction(0)
        stream_start = stream.start_time * tb if stream.start_time is not None else origin
        if stream.duration:
            duration = float(stream_start - origin + stream.duration * tb)
        elif container.duration:
            duration = float(Fraction(container.duration, av.time_base))
        else:
            raise MediaError(f'{where}: the duration of the audio of {path!r} is unknown')
        s, e = check_segment(path, where, duration, start, end, tolerance)
        first, last = int(round(s * sr)), int(round(e * sr))
        seek = s > _SEEK_PREROLL
        if seek:
            container.seek(int((origin + Fraction(s - _SEEK_PREROLL)) / tb), stream=stream)
        out, began, written = _decode_into(container, stream, sr, origin, first, last)
        if seek and began > first:  # the seek went too far: decode from the start
            container.seek(int(origin / tb), stream=stream)
            out, began, written = _decode_into(container, stream, sr, origin, first, last)
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise MediaError(f'{where}: cannot read the audio of {path!r} '
                         f'({type(exc).__name__}: {exc})') from exc
    if written <= began:
        raise MediaError(f'{where}: no audio could be decoded from {path!r} in '
                         f'[{s:.3f}s, {e:.3f}s]')
    if began > first + int(tolerance * sr):
        raise MediaError(f'{where}: the audio of {path!r} starts at {began / sr:.3f}s, after '
                         f'the segment start {s:.3f}s')
    if written < last - int(tolerance * sr):
        raise MediaError(f'{where}: the audio of {path!r} ends after {written / sr:.3f}s of '
                         f'decodable samples, before the segment end {e:.3f}s')
    return out[:written - first], sr


@contextlib.contextmanager
def open_audio_stream(path: str, where: str = '') -> Iterator[tuple]:
    """``(container, stream)``: an audio or video file opened with PyAV and its best
    audio stream; the container is closed on leaving. The one PyAV opener of vega_mm
    (segments here, streamed blocks in :func:`vega_mm.speech.segments.read_audio_blocks`).

    Raises:
        MediaError: PyAV is not installed, the file cannot be opened (corrupt, not media)
            or has no audio stream; each names the file (after ``where``, a table row).
    """
    prefix = f'{where}: ' if where else ''
    try:
        import av
    except ImportError as exc:
        raise MediaError(f'{prefix}reading {path!r} needs PyAV: pip install av (it comes '
                         "with pip install 'vega_mm[asr]')") from exc
    try:
        container = av.open(path)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise MediaError(f'{prefix}cannot open {path!r} as audio or video (corrupt or not '
                         f'a media file: {type(exc).__name__}: {exc})') from exc
    try:
        if not container.streams.audio:
            what = 'video' if container.streams.video else 'file'
            raise MediaError(f'{prefix}{what} {path!r} has no audio stream')
        yield container, container.streams.best('audio') or container.streams.audio[0]
    finally:
        container.close()


def _decode_into(container, stream, sr: int, origin: Fraction, first: int,
                 last: int) -> Tuple[np.ndarray, int, int]:
    """Decodes ``stream`` from where the container stands into samples [first, last)
    (indices on the file's timeline), placed by the frames' time stamps.

    Returns:
        ``(samples, began, written)``: ``began`` is the first sample decoded at or
        after ``first`` (``last`` if none), ``written`` the end of the decoded part.
    """
    out = np.zeros(max(last - first, 0), dtype=np.float32)
    began, written = last, first
    position = None  # for frames without a time stamp: right after the previous one
    for frame in container.decode(stream):
        if frame.sample_rate != sr:
            raise ValueError(f'the sampling rate changes ({sr} -> {frame.sample_rate} Hz)')
        if frame.pts is not None:
            tb = frame.time_base or stream.time_base
            position = int(round((frame.pts * tb - origin) * sr))
        elif position is None:
            position = 0
        lo, hi = max(position, first), min(position + frame.samples, last)
        if hi > lo:
            out[lo - first:hi - first] = frame_to_mono(frame)[lo - position:hi - position]
            began, written = min(began, lo), max(written, hi)
        position += frame.samples
        if position >= last:
            break
    return out, began, written


def probe_media(path: str) -> Dict[str, Any]:
    """What a recording holds: ``{'duration': seconds, 'audio': bool, 'video': bool}``.

    Audio files are asked with soundfile (then PyAV, for what soundfile does not read,
    e.g. some MP3 and Opus files); videos with PyAV. Nothing is decoded.

    Raises:
        MediaError: a missing file, or one neither library can open (corrupt, or a
            container they do not know), or one whose duration is unknown.
    """
    if not os.path.isfile(path):
        raise MediaError(f'recording {path!r} does not exist')
    if not is_video(path):
        import soundfile as sf
        try:
            info = sf.info(path)
            return dict(duration=info.frames / float(info.samplerate), audio=True,
                        video=False)
        except Exception:  # noqa: BLE001 - PyAV may still read it
            pass
    if not _pyav_available():
        raise MediaError(f'{path!r}: reading this recording needs PyAV (pip install av)')
    import av
    try:
        with av.open(path) as container:
            audio, video = bool(container.streams.audio), bool(container.streams.video)
            duration = container.duration
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise MediaError(f'cannot open recording {path!r} ({type(exc).__name__}: {exc}): '
                         'a corrupt file, or a format FFmpeg does not know') from exc
    if not audio and not video:
        raise MediaError(f'recording {path!r} has neither an audio nor a video stream')
    if not duration:
        raise MediaError(f'recording {path!r}: its duration is unknown')
    return dict(duration=float(Fraction(duration, av.time_base)), audio=audio, video=video)

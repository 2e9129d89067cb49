"""Reading an utterance's segment of a media file: audio samples and video frames.

Every failure is a :class:`MediaError` naming the file, the table row and what was
expected, so the extraction can stop with a clear message or skip the dialogue and
report it (``on_missing_media='skip'``), never shift or zero-fill an utterance.
"""
import os
import shutil
from typing import List, Optional, Tuple

import numpy as np

__all__ = ['MediaError', 'AUDIO_EXTENSIONS', 'VIDEO_EXTENSIONS', 'is_video', 'is_audio',
           'ffmpeg_available', 'load_audio_segment', 'sample_video_frames']

AUDIO_EXTENSIONS = ('.wav', '.flac', '.ogg', '.oga', '.aiff', '.aif', '.mp3', '.opus')
VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mkv', '.mov', '.webm', '.m4v', '.mpg', '.mpeg')


class MediaError(RuntimeError):
    """An utterance's media is missing, unreadable or shorter than its segment."""


def is_video(path: str) -> bool:
    return path.lower().endswith(VIDEO_EXTENSIONS)


def is_audio(path: str) -> bool:
    return path.lower().endswith(AUDIO_EXTENSIONS)


def ffmpeg_available() -> bool:
    """Whether ``ffmpeg`` is on PATH (needed to read the audio track of video files)."""
    return shutil.which('ffmpeg') is not None


def _check_segment(path: str, where: str, duration: float, start: Optional[float],
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

    Audio files are read with soundfile; the audio track of video files with
    ``audiofile`` (which needs ``ffmpeg`` on PATH).

    Args:
        tolerance: how far (seconds) ``end`` may pass the end of the file (rounding of
            time stamps); more is an error.
        min_duration: shorter segments are an error (their functionals are undefined).

    Returns:
        ``(samples [T], sampling_rate)``.

    Raises:
        MediaError: missing/unreadable file, segment outside the file, too short.
    """
    where = where or path
    if not os.path.isfile(path):
        raise MediaError(f'{where}: media file {path!r} does not exist')
    if is_video(path):
        if not ffmpeg_available():
            raise MediaError(
                f'{where}: reading the audio track of video {path!r} needs ffmpeg on PATH; '
                'install ffmpeg or extract wav files and point the table at them')
        try:
            import audiofile
            duration = float(audiofile.duration(path))
            s, e = _check_segment(path, where, duration, start, end, tolerance)
            signal, sr = audiofile.read(path, offset=s, duration=e - s, always_2d=True)
        except MediaError:
            raise
        except Exception as exc:  # noqa: BLE001 - re-raised with the file named
            raise MediaError(f'{where}: cannot read the audio of {path!r} '
                             f'({type(exc).__name__}: {exc})') from exc
        signal = np.asarray(signal, dtype=np.float32).mean(0)
    else:
        import soundfile as sf
        try:
            info = sf.info(path)
        except Exception as exc:  # noqa: BLE001
            raise MediaError(f'{where}: cannot read audio file {path!r} '
                             f'({type(exc).__name__}: {exc})') from exc
        sr = int(info.samplerate)
        duration = info.frames / sr
        s, e = _check_segment(path, where, duration, start, end, tolerance)
        first, last = int(round(s * sr)), min(int(round(e * sr)), info.frames)
        signal, _ = sf.read(path, start=first, stop=last, dtype='float32', always_2d=True)
        signal = signal.mean(1)
    if len(signal) < min_duration * sr:
        raise MediaError(f'{where}: audio segment of {path!r} is {len(signal) / sr:.3f}s '
                         f'long, shorter than {min_duration}s')
    return np.ascontiguousarray(signal, dtype=np.float32), int(sr)


def sample_video_frames(path: str, num_frames: int = 8, start: Optional[float] = None,
                        end: Optional[float] = None, where: str = '',
                        tolerance: float = 0.1) -> List['PIL.Image.Image']:  # noqa: F821
    """``num_frames`` RGB frames evenly spread over a video segment.

    Frame ``k`` is taken at the centre of the ``k``-th of ``num_frames`` equal parts of
    [start, end] (whole video by default); segments with fewer frames give each of
    their frames once.

    Raises:
        MediaError: missing/unreadable file, a segment outside the video (beyond
            ``tolerance`` seconds), or a stream that ends before the segment does.
    """
    import cv2
    from PIL import Image
    where = where or path
    if not os.path.isfile(path):
        raise MediaError(f'{where}: media file {path!r} does not exist')
    cap = cv2.VideoCapture(path)
    try:
        if not cap.isOpened():
            raise MediaError(f'{where}: OpenCV cannot open video {path!r}')
        fps = float(cap.get(cv2.CAP_PROP_FPS))
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        if fps <= 0 or count <= 0:
            raise MediaError(f'{where}: video {path!r} reports {count} frames at {fps} fps')
        s, e = _check_segment(path, where, count / fps, start, end, tolerance)
        first, last = int(s * fps), max(int(np.ceil(e * fps)) - 1, int(s * fps))
        n = min(num_frames, last - first + 1)
        wanted = sorted({min(first + int((k + 0.5) * (last - first + 1) / n), last)
                         for k in range(n)})
        if first > 0:
            cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        frames, index = [], first
        for target in wanted:
            got = None
            while index <= target:
                if not cap.grab():
                    break
                if index == target:
                    ok, bgr = cap.retrieve()
                    if not ok:
                        raise MediaError(f'{where}: frame {target} of {path!r} cannot be '
                                         'decoded')
                    got = bgr
                index += 1
            if got is None:  # the stream ended before this frame
                decoded_until = index / fps
                if not frames or decoded_until < e - tolerance:
                    raise MediaError(
                        f'{where}: video {path!r} ends after {decoded_until:.3f}s of '
                        f'decodable frames, before the segment end {e:.3f}s')
                break  # frame count over-reported by the container, within tolerance
            frames.append(Image.fromarray(cv2.cvtColor(got, cv2.COLOR_BGR2RGB)))
        if not frames:
            raise MediaError(f'{where}: no frame could be decoded from {path!r} in '
                             f'[{s:.3f}s, {e:.3f}s]')
        return frames
    finally:
        cap.release()

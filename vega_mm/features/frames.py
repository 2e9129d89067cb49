"""Video frames of an utterance's segment, read with OpenCV (the visual extractor's input).

Errors are the media errors of :mod:`vega_mm.speech.media` (:class:`MediaError`), naming
the file, the table row and what was expected.
"""
import os
from typing import List, Optional

import numpy as np

from vega_mm.speech.media import MediaError, check_segment

__all__ = ['sample_video_frames']


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
        s, e = check_segment(path, where, count / fps, start, end, tolerance)
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

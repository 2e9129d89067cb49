"""From a recording (audio or video) to the utterances of its conversation.

:func:`recording_dialogue` gives the :class:`~vega_mm.conversations.Dialogue` of one
recording, every utterance with its start and end time and the recording as its media,
so the model's recorded extractors read their segments as they read a table's:

- with a transcript (``.srt``, ``.vtt``, or a one-conversation ``.csv``/``.jsonl`` with
  ``start``/``end``), its utterances, times and speakers; cues are checked against the
  recording's duration and overlapping cues are reported (and kept);
- without one, voice-activity detection finds the utterances and Whisper transcribes
  them (:mod:`vega_mm.speech.segments`, :mod:`vega_mm.speech.asr`).

Speakers come from the transcript when it names them; otherwise the recording has one
speaker (``'speaker'``), or ``num_speakers`` voices grouped by
:func:`~vega_mm.speech.diarization.cluster_speakers`.

Everything that makes a result untrustworthy is an error naming the file: a missing,
corrupt or unreadable recording, a model that needs a stream the recording lacks (a
visual model on an audio file), an empty transcript, cues past the end of the media, no
speech at all.
"""
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np

from vega_mm.conversations import Dialogue, dialogue_from_records
from vega_mm.speech.media import is_audio, is_video, probe_media
from .recipe import RecipeError

__all__ = ['RECORDING_EXTENSIONS', 'is_recording', 'recording_dialogue', 'check_streams']

#: File names :func:`is_recording` takes for recordings (audio and video).
RECORDING_EXTENSIONS = ('.wav', '.flac', '.ogg', '.oga', '.mp3', '.opus', '.m4a', '.aac',
                        '.aiff', '.aif', '.mp4', '.mkv', '.avi', '.mov', '.webm', '.m4v',
                        '.mpg', '.mpeg')
DEFAULT_SPEAKER = 'speaker'


def is_recording(path: Any) -> bool:
    """Whether ``path`` names an audio or video file (by its suffix)."""
    return isinstance(path, (str, os.PathLike)) and (
        os.fspath(path).lower().endswith(RECORDING_EXTENSIONS) or is_audio(os.fspath(path))
        or is_video(os.fspath(path)))


def check_streams(path: str, info: Mapping[str, Any], modalities: Sequence[str],
                  transcript: Optional[str]) -> None:
    """The recording has what the model and the transcription need.

    Raises:
        RecipeError: the model uses audio features and the file has no sound, or visual
            features and the file has no pictures; there is no sound to transcribe and
            no transcript.
    """
    if 'visual' in modalities and not info['video']:
        raise RecipeError(f'{path}: the model uses visual features (faces in video frames) '
                          'but the recording has no video stream; give the video, or use a '
                          'model trained without the visual modality')
    if 'audio' in modalities and not info['audio']:
        raise RecipeError(f'{path}: the model uses audio features but the recording has no '
                          'audio stream')
    if transcript is None and not info['audio']:
        raise RecipeError(f'{path}: the recording has no audio stream to transcribe; give '
                          'its transcript (--transcript x.srt|x.vtt|x.csv|x.jsonl)')


_UNNAMED = object()  # the speaker of cues that name none, until one is chosen


def _transcript_records(transcript: str, media: str, duration: float,
                        log: Callable[[str], None]) -> List[Dict[str, Any]]:
    """The utterances of a transcript file, checked against the recording; cues that
    name no speaker have speaker None."""
    from vega_mm.conversations.subtitles import (check_cue_times, load_transcript,
                                                 overlapping_cues)
    dialogue = load_transcript(transcript, media=media, default_speaker=_UNNAMED)
    check_cue_times(dialogue, duration, media)
    for note in overlapping_cues(dialogue):
        log(f'{transcript}: {note} (both kept)')
    return [dict(utterance_id=u.utterance_id, speaker=None if u.speaker is _UNNAMED
                 else u.speaker, text=u.text, start=u.start, end=u.end, media=media)
            for u in dialogue.utterances]


def _asr_records(media: str, transcriber, segmenter_options: Optional[Mapping[str, Any]],
                 log: Callable[[str], None]) -> List[Dict[str, Any]]:
    """Utterances found by voice-activity detection and transcribed."""
    from vega_mm.speech.segments import (SpeechSegmenter, TranscriptReport,
                                         recording_utterances)
    report = TranscriptReport()
    found = recording_utterances(media, transcriber,
                                 segmenter=SpeechSegmenter(**dict(segmenter_options or {})),
                                 report=report)
    note = report.note()
    if note:
        log(f'{media}: {note}')
    return [dict(utterance_id=str(i), text=u['text'], start=u['start'], end=u['end'],
                 media=media) for i, u in enumerate(found)]


def _segments(media: str, records: Sequence[Mapping[str, Any]]) -> List[np.ndarray]:
    """Each utterance's 16 kHz samples (for the speaker clustering)."""
    from scipy.signal import resample_poly

    from vega_mm.speech.media import load_audio_segment
    out = []
    for r in records:
        signal, sr = load_audio_segment(media, r['start'], r['end'], where=media,
                                        tolerance=0.5, min_duration=0.0)
        if sr != 16000:
            g = int(np.gcd(sr, 16000))
            signal = resample_poly(signal, 16000 // g, sr // g).astype(np.float32)
        out.append(signal)
    return out


def _choose_speakers(media: str, info: Mapping[str, Any], records: List[Dict[str, Any]],
                     num_speakers: Optional[int], transcript: Optional[str],
                     log: Callable[[str], None]) -> None:
    """Fill in the speakers the transcript does not name (in place)."""
    if any(r['speaker'] is not None for r in records if 'speaker' in r):
        if num_speakers:
            log(f'{transcript}: the transcript names its speakers; --speakers is not used')
        for r in records:
            if r.get('speaker') is None:
                r['speaker'] = DEFAULT_SPEAKER
        return
    if not num_speakers or num_speakers == 1:
        for r in records:
            r['speaker'] = DEFAULT_SPEAKER
        return
    if not info['audio']:
        raise RecipeError(f'{media}: --speakers needs the sound of the recording to tell '
                          'voices apart, and it has no audio stream')
    from vega_mm.speech.diarization import cluster_speakers
    groups = cluster_speakers(_segments(media, records), num_speakers)
    for r, g in zip(records, groups):
        r['speaker'] = f'{DEFAULT_SPEAKER} {g + 1}'


def recording_dialogue(media: str, transcript: Optional[str] = None, transcriber=None,
                       num_speakers: Optional[int] = None,
                       modalities: Sequence[str] = ('text', ),
                       dialogue_id: Optional[str] = None,
                       segmenter_options: Optional[Mapping[str, Any]] = None,
                       log: Callable[[str], None] = print) -> Dialogue:
    """The conversation of one recording (see the module docstring).

    Args:
        media: the audio or video file.
        transcript: its transcript or subtitles, if any (then no speech recognition).
        transcriber: what transcribes speech (a
            :class:`~vega_mm.speech.asr.WhisperTranscriber`); needed without a
            transcript.
        num_speakers: group the utterances into this many voices when the transcript
            names no speakers (None: one speaker).
        modalities: what the model reads (checked against the recording's streams).
        dialogue_id: the id reported with every prediction (default: the file's stem).
        segmenter_options: settings of :class:`~vega_mm.speech.segments.SpeechSegmenter`.
        log: where notes go (overlapping cues, segments without words).

    Raises:
        MediaError: the recording is missing, corrupt or cannot be decoded.
        RecipeError: it lacks a stream the model needs.
        ValueError: an empty or malformed transcript, cues past the end of the media,
            no speech found.
    """
    media = os.fspath(media)
    info = probe_media(media)
    check_streams(media, info, modalities, transcript)
    if transcript is not None:
        records = _transcript_records(os.fspath(transcript), media, info['duration'], log)
    else:
        if transcriber is None:
            raise ValueError(f'{media}: no transcript given and no speech recogniser to '
                             'find the utterances')
        records = _asr_records(media, transcriber, segmenter_options, log)
    _choose_speakers(media, info, records, num_speakers, transcript, log)
    name = dialogue_id or os.path.splitext(os.path.basename(media))[0]
    return dialogue_from_records(records, name)

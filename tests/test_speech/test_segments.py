"""From a recording to utterances: streamed decoding, the streaming VAD, transcripts.

The speech is espeak-ng's (see tests/speech_fixtures.py: three sentences with 0.6, 1.2,
0.8 and 0.7 s of silence around them); silence, noise and a chord of tones are made with
numpy.  The transcriber here is a fake; tests/test_speech/test_asr.py runs Whisper.
"""
import numpy as np
import pytest
import soundfile as sf

from tests.speech_fixtures import SR, chord, write_dialogue
from vega_mm.speech.media import MediaError
from vega_mm.speech.segments import (SpeechSegmenter, TranscriptReport, read_audio_blocks,
                                     recording_segments, recording_utterances, replay,
                                     transcribe_segments)
from tests.test_features.conftest import write_av_video

pytest.importorskip('faster_whisper', reason="the VAD model comes with faster-whisper "
                    "(pip install 'vega_mm[asr]')")


@pytest.fixture(scope='module')
def dialogue(tmp_path_factory):
    """``(path, [(start, end) of each spoken clip])``."""
    path = tmp_path_factory.mktemp('speech') / 'dialogue.wav'
    return str(path), write_dialogue(path)


class FakeTranscriber:
    """The transcriber interface; says 'words N' for the N-th segment, nothing for the
    segments listed in ``silent``."""

    def __init__(self, silent=()):
        self.calls, self.silent = 0, set(silent)

    def transcribe(self, samples):
        assert samples.dtype == np.float32 and samples.ndim == 1
        self.calls += 1
        return '  ' if self.calls - 1 in self.silent else f' words {self.calls - 1} '

    def identity(self):
        return dict(model='fake')


def _feed(samples, sizes, segmenter=None):
    """Segments of ``samples`` fed in chunks of the cycling ``sizes``."""
    seg = SpeechSegmenter() if segmenter is None else segmenter
    out, i, k = [], 0, 0
    while i < len(samples):
        n = sizes[k % len(sizes)]
        out += seg.feed(samples[i:i + n])
        i, k = i + n, k + 1
    return out + seg.flush()


def test_segments_do_not_depend_on_the_chunking(dialogue):
    path, _ = dialogue
    offline = list(recording_segments(path))  # 30 s blocks: the whole file at once
    x = np.concatenate(list(read_audio_blocks(path)))
    live = _feed(x, [SR // 2])  # 0.5 s chunks, as --live
    odd = _feed(x, [7, 513, 4001, 1, 12345, 511])  # sizes that cut every window
    assert len(offline) == 3
    for other in (live, odd):
        assert [(s.start, s.end) for s in other] == [(s.start, s.end) for s in offline]
        # the model saw the same windows with the same state: probabilities bit for bit
        assert [s.probability for s in other] == [s.probability for s in offline]
        for a, b in zip(offline, other):
            np.testing.assert_array_equal(a.samples, b.samples)


def test_segments_are_the_spoken_clips(dialogue):
    path, times = dialogue
    segments = list(recording_segments(path))
    assert len(segments) == len(times)
    x = np.concatenate(list(read_audio_blocks(path)))
    for seg, (start, end) in zip(segments, times):
        assert abs(seg.start - start) < 0.3 and abs(seg.end - end) < 0.3
        assert seg.samples.dtype == np.float32 and 0.5 < seg.probability <= 1
        np.testing.assert_array_equal(seg.samples,
                                      x[round(seg.start * SR):round(seg.end * SR)])


def test_long_speech_is_split_at_max_utterance(dialogue):
    path, times = dialogue
    segments = list(recording_segments(path, SpeechSegmenter(max_utterance_s=1.0)))
    first = [s for s in segments if s.start < times[0][1]]
    assert len(first) >= 3  # the first clip lasts about 3 s
    assert all(s.duration <= 1.0 + 1e-9 for s in segments)
    for a, b in zip(first, first[1:]):
        assert b.start >= a.end  # no sample twice
    # 2.5 s: the first clip ("I can't believe you did that. This is wonderful news.",
    # about 3 s) is split at the pause between its sentences, not inside a word
    x = np.concatenate(list(read_audio_blocks(path)))
    live = _feed(x, [SR // 2, 777], SpeechSegmenter(max_utterance_s=1.0))
    assert [(s.start, s.end, s.probability) for s in live] == \
        [(s.start, s.end, s.probability) for s in segments]  # splits too are chunk-free
    segments = list(recording_segments(path, SpeechSegmenter(max_utterance_s=2.5)))
    assert len(segments) == 4 and segments[0].end == segments[1].start
    assert 1.0 < segments[0].duration <= 2.5
    cut = round(segments[0].end * SR)
    assert np.sqrt(np.mean(x[cut - SR // 10:cut] ** 2)) < 0.005  # silence before the cut


def test_silence_noise_and_music_hold_no_speech_and_no_memory():
    seg = SpeechSegmenter()
    rng = np.random.default_rng(0)
    quiet = np.zeros(SR * 60, np.float32)
    for signal in (quiet, chord(20.0), (0.05 * rng.standard_normal(SR * 10)).astype(np.float32)):
        for i in range(0, len(signal), SR // 2):
            assert seg.feed(signal[i:i + SR // 2]) == []
            assert len(seg._buf) <= SR // 2 + seg._pad + 512  # nothing piles up
        assert not seg.open
    assert seg.flush() == [] and seg.seconds == 90.0


def test_silent_and_music_recordings_are_an_error_not_an_empty_list(tmp_path):
    quiet = tmp_path / 'quiet.wav'
    sf.write(str(quiet), np.zeros(SR * 12, np.float32), SR)
    with pytest.raises(ValueError, match=r"quiet\.wav: no speech found \(voice-activity "
                       r"detection found no utterance in 12\.0 s of audio\)"):
        recording_utterances(str(quiet), FakeTranscriber())
    music = tmp_path / 'music.flac'
    sf.write(str(music), chord(8.0), SR)
    with pytest.raises(ValueError, match='no speech found.* in 8.0 s'):
        recording_utterances(str(music), FakeTranscriber())


def test_empty_transcripts_are_skipped_and_reported(dialogue):
    path, times = dialogue
    report = TranscriptReport()
    out = recording_utterances(path, FakeTranscriber(silent=[1]), report=report)
    assert [u['text'] for u in out] == ['words 0', 'words 2']
    assert set(out[0]) == {'start', 'end', 'text'}
    assert abs(out[0]['start'] - times[0][0]) < 0.1  # the speech's time, padding excluded
    assert report.segments == 3 and len(report.empty) == 1
    assert report.note() == '1 segment of 3 had no words (skipped)'
    assert abs(report.seconds - (times[-1][1] + 0.7)) < 0.01
    with pytest.raises(ValueError, match='found 3 utterance.*no words in any'):
        recording_utterances(path, FakeTranscriber(silent=[0, 1, 2]))
    segs = list(recording_segments(path))
    assert len(list(transcribe_segments(segs, FakeTranscriber()))) == 3


def test_read_audio_blocks_resamples_and_downmixes(tmp_path):
    t = np.arange(44100 * 2) / 44100
    left = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = tmp_path / 'stereo.wav'
    sf.write(str(path), np.stack([left, -left], 1), 44100, subtype='FLOAT')
    blocks = list(read_audio_blocks(str(path), block_seconds=0.3))
    assert [len(b) for b in blocks[:-1]] == [4800] * (len(blocks) - 1)
    x = np.concatenate(blocks)
    assert x.dtype == np.float32 and abs(len(x) - 32000) <= 16
    assert np.abs(x).max() < 1e-3  # channels averaged: opposite phases cancel
    mono = tmp_path / 'mono.wav'
    sf.write(str(mono), left, 44100, subtype='FLOAT')
    y = np.concatenate(list(read_audio_blocks(str(mono))))
    assert 0.45 < np.abs(y[1000:-1000]).max() < 0.55  # resampled, amplitude kept
    np.testing.assert_array_equal(y, np.concatenate(list(read_audio_blocks(str(mono), 16000,
                                                                           0.01))))


def test_the_audio_track_of_a_video_is_read(tmp_path):
    pytest.importorskip('av')
    video = write_av_video(tmp_path / 'talk.mp4', seconds=2.4)
    x = np.concatenate(list(read_audio_blocks(str(video))))
    assert abs(len(x) / SR - 2.4) < 0.1 and np.abs(x).max() > 0.3


def _late_audio_video(path, delay: float, seconds: float = 2.0):
    """An mp4 whose mono AAC track of a 440 Hz tone starts ``delay`` s after the video."""
    from fractions import Fraction

    import av
    c = av.open(str(path), mode='w')
    v = c.add_stream('mpeg4', rate=10)
    v.width, v.height, v.pix_fmt = 64, 48, 'yuv420p'
    a = c.add_stream('aac', rate=SR, layout='mono')
    for k in range(int(seconds * 10)):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 10 * k, np.uint8), 'rgb24')
        frame.pts = k
        c.mux(v.encode(frame))
    x = (0.4 * np.sin(2 * np.pi * 440 * np.arange(int(seconds * SR)) / SR)).astype(np.float32)
    for i in range(0, len(x), 1024):
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x[None, i:i + 1024]),
                                           format='fltp', layout='mono')
        frame.sample_rate, frame.pts = SR, i + int(delay * SR)
        frame.time_base = Fraction(1, SR)
        c.mux(a.encode(frame))
    for s in (v, a):
        c.mux(s.encode())
    c.close()
    return path


def test_times_are_the_files_when_the_sound_starts_after_the_video(tmp_path):
    pytest.importorskip('av')
    from vega_mm.speech.media import load_audio_segment
    video = _late_audio_video(tmp_path / 'late.mp4', delay=0.5)
    x = np.concatenate(list(read_audio_blocks(str(video))))
    loud = np.flatnonzero(np.abs(x) > 0.1)
    assert abs(loud[0] / SR - 0.5) < 0.02  # the tone starts 0.5 s into the file
    ref, sr = load_audio_segment(str(video), 0.6, 1.6)  # the table reader's timeline
    assert sr == SR
    np.testing.assert_allclose(x[round(0.6 * SR):round(1.6 * SR)], ref, atol=1e-4)


def test_unreadable_media_errors_name_the_file(tmp_path):
    pytest.importorskip('av')
    with pytest.raises(MediaError, match=r"'.*nope\.wav' does not exist"):
        next(read_audio_blocks(str(tmp_path / 'nope.wav')))
    junk = tmp_path / 'junk.wav'
    junk.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(MediaError, match=r"cannot open '.*junk\.wav' as audio or video"):
        next(read_audio_blocks(str(junk)))
    mute = write_av_video(tmp_path / 'mute.mp4', audio=False)
    with pytest.raises(MediaError, match=r"video '.*mute\.mp4' has no audio stream"):
        next(read_audio_blocks(str(mute)))
    with pytest.raises(MediaError, match='mute.mp4.*no audio stream'):
        recording_utterances(str(mute), FakeTranscriber())


def test_truncated_and_undecodable_media_are_errors(tmp_path, monkeypatch):
    video = write_av_video(tmp_path / 'talk.mp4', seconds=2.4)
    data = video.read_bytes()
    cut = tmp_path / 'cut.mp4'
    cut.write_bytes(data[:len(data) // 2])  # the index (moov) is at the end: lost
    with pytest.raises(MediaError, match=r"cannot open '.*cut\.mp4'"):
        next(read_audio_blocks(str(cut)))
    import av.container

    def broken(self, *streams):  # what a decoder failing mid-stream raises
        raise av.error.InvalidDataError(1094995529, 'Invalid data found')
        yield
    monkeypatch.setattr(av.container.InputContainer, 'decode', broken)
    with pytest.raises(MediaError, match=r"cannot decode the audio of '.*talk\.mp4' \(aac; "
                       'InvalidDataError'):
        next(read_audio_blocks(str(video)))


def test_replay_paces_chunks_in_real_time(tmp_path):
    path = tmp_path / 'tone.wav'
    sf.write(str(path), chord(1.2), SR)
    now, slept = [100.0], []

    def sleep(s):
        slept.append(round(s, 6))
        now[0] += s
    chunks = list(replay(str(path), 0.5, clock=lambda: now[0], sleep=sleep))
    assert [round(a, 6) for _, a in chunks] == [0.5, 1.0, 1.2]
    assert [len(c) for c, _ in chunks] == [8000, 8000, 3200]
    assert slept == [0.5, 0.5, 0.2]
    fast = list(replay(str(path), 0.5, realtime=False, sleep=sleep))
    assert len(slept) == 3 and [a for _, a in fast] == [a for _, a in chunks]


def test_segmenter_checks_its_settings_and_input():
    with pytest.raises(ValueError, match='sampling_rate must be 16000'):
        SpeechSegmenter(sampling_rate=8000)
    with pytest.raises(ValueError, match='speech_pad_s .* must not exceed min_silence_s'):
        SpeechSegmenter(speech_pad_s=0.6, min_silence_s=0.5)
    with pytest.raises(ValueError, match='vad_threshold'):
        SpeechSegmenter(vad_threshold=1.5)
    with pytest.raises(ValueError, match='mono'):
        SpeechSegmenter().feed(np.zeros((2, 100), np.float32))
    with pytest.raises(ValueError, match=r'holds integers \(int16\); give float samples'):
        SpeechSegmenter().feed(np.zeros(100, np.int16))
    with pytest.raises(ValueError, match='NaN'):
        SpeechSegmenter().feed(np.full(100, np.nan, np.float32))

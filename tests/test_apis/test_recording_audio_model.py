"""A text + audio model on a recording: the recorded extractors (a tiny text encoder and
Whisper audio features from a tiny random Whisper) read each utterance's segment of the
recording, exactly as they read a table's media; a recording without sound is refused."""
import csv

import numpy as np
import pytest

from tests.inference_fixtures import save_checkpoint, text_config
from tests.inference_fixtures import SRT, video_without_sound
from tests.test_features.conftest import write_wav
from tests.whisper_fixtures import TINY_WHISPER_DIM
from vega_mm.apis.recipe import RecipeError
from vega_mm.structures.meta import MELD_CLASSES


def _table(folder, wav):
    """Training conversations whose utterances are segments of ``wav``."""
    path = folder / 'train.csv'
    with open(path, 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f)
        w.writerow(['dialogue_id', 'utterance_id', 'speaker', 'text', 'label', 'media',
                    'start', 'end'])
        for d in range(6):
            for u in range(3):
                w.writerow([f'd{d}', str(u), ['Ross', 'Rachel'][u % 2],
                            f'line {d} {u} we were on a break', MELD_CLASSES[(d + u) % 7],
                            str(wav), u * 1.2, u * 1.2 + 1.0])
    return path


@pytest.fixture(scope='module')
def audio_text_model(tiny_text_model, tiny_whisper_model, tmp_path_factory):
    from vega_mm.datasets import ConversationDataset
    from vega_mm.features import extract_features
    folder = tmp_path_factory.mktemp('audio_text')
    wav = write_wav(folder / 'scene.wav', seconds=4.0)
    out = folder / 'feats.npz'
    extract_features(str(out), [dict(path=str(_table(folder, wav)), split='train')],
                     text=dict(model=tiny_text_model, batch_size=8),
                     audio=dict(type='WhisperAudioExtractor', model=tiny_whisper_model,
                                cpu_threads=1),
                     classes=MELD_CLASSES, max_speakers=4, val_fraction=0.34,
                     progress=False, log=lambda s: None)
    meta = dict(ConversationDataset(str(out), split='train').metainfo)
    assert meta['feature_dims']['audio'] == TINY_WHISPER_DIM
    cfg = text_config(modalities=('text', 'audio'))
    cfg.model.backbone.input_dims['audio'] = TINY_WHISPER_DIM
    return cfg, save_checkpoint(folder / 'model.pth', cfg, meta), wav


def test_the_audio_features_come_from_the_recordings_segments(audio_text_model, tmp_path):
    from vega_mm.apis import ConversationInferencer
    cfg, ckpt, _ = audio_text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    assert inferencer.modalities == ('text', 'audio')
    wav = write_wav(tmp_path / 'talk.wav', seconds=4.0, freq=330., seed=3)
    srt = tmp_path / 'talk.srt'
    srt.write_text(SRT, encoding='utf-8')
    dialogue = inferencer.recording(str(wav), transcript=str(srt), log=lambda s: None)
    preds = inferencer(dialogue)
    # the same utterances as a table row each, media and times given by hand
    rows = [dict(speaker=u.speaker, text=u.text, media=str(wav), start=u.start, end=u.end)
            for u in dialogue.utterances]
    by_hand = inferencer(rows)
    assert [p['pred_class'] for p in preds] == [p['pred_class'] for p in by_hand]
    for a, b in zip(preds, by_hand):
        assert np.allclose(list(a['pred_scores'].values()),
                           list(b['pred_scores'].values()), atol=1e-6)
    # another sound under the same words changes the audio features, so the scores
    other = write_wav(tmp_path / 'other.wav', seconds=4.0, freq=150., seed=9)
    moved = inferencer(inferencer.recording(str(other), transcript=str(srt),
                                            log=lambda s: None))
    assert not np.allclose([list(p['pred_scores'].values()) for p in moved],
                           [list(p['pred_scores'].values()) for p in preds], atol=1e-6)


def test_an_audio_model_refuses_a_recording_without_sound(audio_text_model, tmp_path):
    from vega_mm.apis import ConversationInferencer
    cfg, ckpt, _ = audio_text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    silent = video_without_sound(tmp_path / 'silent.mp4')
    srt = tmp_path / 'talk.srt'
    srt.write_text(SRT, encoding='utf-8')
    with pytest.raises(RecipeError, match='uses audio features but the recording has no '
                       'audio stream'):
        inferencer.recording(str(silent), transcript=str(srt), log=lambda s: None)

"""The extraction pipeline: MELD slice -> native file, standardisation, resume, media
problems, modalities, and the command line."""
import csv
import os
from pathlib import Path

import numpy as np
import pytest

from vega_mm.datasets.formats import load_native
from vega_mm.features import (BaseFeatureExtractor, MediaError, PartStore, TableSpec,
                              extract_features, meld_tables, register_extractor)
from vega_mm.features import extract as extract_mod
from vega_mm.registry import FEATURE_EXTRACTORS
from .conftest import write_video, write_wav

QUIET = dict(progress=False, log=lambda msg: None)


def split_features(coll, split, modality='text'):
    return np.concatenate([d['features'][modality] for d in coll.get_split(split)])


@pytest.fixture(scope='module')
def meld_file(meld_slice, tiny_text_model, tmp_path_factory):
    out = tmp_path_factory.mktemp('meld_out') / 'meld_tiny.npz'
    summary = extract_features(str(out), meld_tables(meld_slice), modalities='auto',
                               text=dict(model=tiny_text_model, device='cpu'),
                               keep_parts=True, **QUIET)
    return out, summary


def test_meld_slice_to_native_file(meld_file, meld_slice):
    out, summary = meld_file
    coll = load_native(str(out))
    assert coll.modalities == ('text',) and summary['modalities'] == ['text']
    assert coll.classes[:2] == ('neutral', 'surprise') and coll.num_speakers == 9
    assert {s: len(v) for s, v in coll.splits.items()} == dict(train=18, val=2, test=6)
    # every row of the tables is there, in id order, with its label and speaker
    with open(meld_slice / 'dev_sent_emo.csv', encoding='utf-8') as f:
        rows = [r for r in csv.DictReader(f) if r['Dialogue_ID'] == '0']
    dev0 = next(d for d in coll.dialogues if d['dialogue_id'] == 'dev/0')
    assert dev0['utterance_ids'] == [r['Utterance_ID'] for r in rows]
    assert [coll.classes[i] for i in dev0['labels']] == [r['Emotion'] for r in rows]
    names = coll.speaker_names
    assert [names[i] if names[i] != 'other' else r['Speaker']
            for i, r in zip(dev0['speakers'], rows)] == [r['Speaker'] for r in rows]
    extra = coll.extra
    assert extra['standardized'] and extra['feature_stats']['text']['split'] == 'train'
    assert extra['extractors']['text']['dim'] == 16


def test_meld_slice_keeps_meld_sentiments(meld_file, meld_slice):
    """MELD's Sentiment column reaches the feature file, row by row, for every split."""
    from vega_mm.structures.meta import SENTIMENTS
    out, summary = meld_file
    coll = load_native(str(out))
    assert summary['sentiments'] and coll.has_sentiments
    for table in ('train', 'dev'):
        with open(meld_slice / f'{table}_sent_emo.csv', encoding='utf-8') as f:
            rows = list(csv.DictReader(f))
        for d in coll.dialogues:
            if d['dialogue_id'].startswith(table + '/'):
                mine = [r['Sentiment'] for r in rows
                        if f"{table}/{r['Dialogue_ID']}" == d['dialogue_id']]
                assert [SENTIMENTS[s] for s in d['sentiments']] == mine


def test_standardisation_uses_train_statistics_only(meld_file, meld_slice, tiny_text_model,
                                                    tmp_path):
    out, _ = meld_file
    coll = load_native(str(out))
    train = split_features(coll, 'train')
    np.testing.assert_allclose(train.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(train.std(0), 1, atol=1e-3)
    assert np.abs(split_features(coll, 'test').mean(0)).max() > 1e-3  # not its own stats
    # raw features: re-assembled from the kept parts without computing anything
    raw_out = str(out).replace('.npz', '_raw.npz')
    summary = extract_features(raw_out, meld_tables(meld_slice), standardize=False,
                               text=dict(model=tiny_text_model, device='cpu'),
                               parts_dir=str(out) + '.parts', keep_parts=True, **QUIET)
    assert summary['computed'] == 0
    raw = load_native(raw_out)
    assert not raw.extra['standardized'] and 'feature_stats' not in raw.extra
    stats = coll.extra['feature_stats']['text']
    for split in ('train', 'val', 'test'):
        x = split_features(raw, split)
        np.testing.assert_allclose((x - stats['mean']) / np.asarray(stats['std']),
                                   split_features(coll, split), atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(split_features(raw, 'test'), axis=1), 1,
                               atol=1e-5)


def test_interrupted_extraction_resumes_without_recomputing(meld_slice, tiny_text_model,
                                                            tmp_path, monkeypatch):
    out = str(tmp_path / 'resume.npz')
    encoded = []
    real_extract = FEATURE_EXTRACTORS.get('TextFeatureExtractor').extract

    def counting_extract(self, utterances):
        encoded.extend(u.dialogue_id for u in utterances)
        return real_extract(self, utterances)

    monkeypatch.setattr(FEATURE_EXTRACTORS.get('TextFeatureExtractor'), 'extract',
                        counting_extract)
    real_write = PartStore.write
    written = []

    def failing_write(self, dialogue, feats):
        if len(written) == 7:
            raise KeyboardInterrupt('simulated interruption')
        real_write(self, dialogue, feats)
        written.append(dialogue.dialogue_id)

    monkeypatch.setattr(PartStore, 'write', failing_write)
    kw = dict(text=dict(model=tiny_text_model, device='cpu'), chunk_size=4, **QUIET)
    with pytest.raises(KeyboardInterrupt):
        extract_features(out, meld_tables(meld_slice), **kw)
    assert not os.path.exists(out)  # nothing is written before every dialogue is done
    parts = [p for p in os.listdir(out + '.parts') if p.endswith('.npz')]
    assert len(parts) == 7 and not [p for p in os.listdir(out + '.parts') if '.tmp' in p]

    monkeypatch.setattr(PartStore, 'write', real_write)
    encoded.clear()
    summary = extract_features(out, meld_tables(meld_slice), **kw)
    assert summary['reused'] == 7 and summary['computed'] == 26 - 7
    assert not set(encoded) & set(written)  # finished dialogues are not encoded again
    assert not os.path.exists(out + '.parts')  # cleaned up after success
    fresh = str(tmp_path / 'fresh.npz')
    extract_features(fresh, meld_tables(meld_slice), **kw)
    a, b = load_native(out), load_native(fresh)
    for da, db in zip(a.dialogues, b.dialogues):
        np.testing.assert_allclose(da['features']['text'], db['features']['text'], atol=1e-5)


def test_parts_made_with_other_settings_are_not_mixed(meld_slice, tiny_text_model, tmp_path):
    out = str(tmp_path / 'x.npz')
    kw = dict(text=dict(model=tiny_text_model, device='cpu'), keep_parts=True, **QUIET)
    extract_features(out, meld_tables(meld_slice), **kw)
    other = dict(kw, text=dict(model=tiny_text_model, pooling='cls', device='cpu'))
    with pytest.raises(RuntimeError, match=r"other settings or tables \(differs in: \['text'\]"):
        extract_features(out, meld_tables(meld_slice), **other)
    summary = extract_features(out, meld_tables(meld_slice), overwrite=True, **other)
    assert summary['computed'] == 26


def test_a_run_refused_before_its_first_part_leaves_nothing_behind(meld_like,
                                                                   tiny_text_model, tmp_path):
    """A mistyped option fails, and the corrected rerun is not refused for 'other
    settings' by a parts folder that the failed run made and never used."""
    out = str(tmp_path / 'x.npz')
    bad = dict(text=dict(model=tiny_text_model, device='cpu', context=-1), **QUIET)
    with pytest.raises(ValueError, match='text context must be a whole number'):
        extract_features(out, meld_tables(meld_like), **bad)
    assert not os.path.exists(out + '.parts') and not os.path.exists(out)
    good = dict(text=dict(model=tiny_text_model, device='cpu', context=1), **QUIET)
    summary = extract_features(out, meld_tables(meld_like), **good)
    assert summary['computed'] == 26 and os.path.isfile(out)


def test_finetuning_sees_training_split_only(meld_slice, tiny_text_model, tmp_path,
                                             monkeypatch):
    seen = {}
    real = extract_mod.finetune_text_encoder

    def spy(model, texts, labels, num_classes, out_dir, **kw):
        seen.update(texts=list(texts), labels=np.asarray(labels), val=kw.get('val'))
        return real(model, texts, labels, num_classes, out_dir, **kw)

    monkeypatch.setattr(extract_mod, 'finetune_text_encoder', spy)
    out = str(tmp_path / 'ft.npz')
    summary = extract_features(out, meld_tables(meld_slice),
                               text=dict(model=tiny_text_model, device='cpu'),
                               finetune=dict(epochs=1, lr=1e-3, batch_size=16), **QUIET)
    coll = load_native(out)
    train_labels = np.concatenate([d['labels'] for d in coll.get_split('train')])
    assert len(seen['texts']) == len(train_labels)  # not val (held out of train), not test
    np.testing.assert_array_equal(seen['labels'], train_labels)
    recorded = coll.extra['extractors']['text']['finetune']
    assert recorded['epochs'] == 1 and recorded['best_epoch'] == 1
    assert len(recorded['val_weighted_f1']) == 1 and 0 <= recorded['val_weighted_f1'][0] <= 100
    assert summary['counts']['val']['dialogues'] == 2
    # the validation split chooses the epoch; the test split is never seen
    val_labels = np.concatenate([d['labels'] for d in coll.get_split('val')])
    np.testing.assert_array_equal(seen['val']['labels'], val_labels)
    assert len(seen['val']['texts']) == len(val_labels)


def test_extraction_stopped_while_finetuning_resumes_the_finetuning(
        meld_slice, tiny_text_model, tmp_path, monkeypatch):
    """A run stopped after a fine-tuning epoch (Ctrl-C, a killed job) keeps that epoch:
    the same command again continues after it instead of starting over."""
    from vega_mm.features import text_finetune
    real = text_finetune._save_state

    def save_then_stop(*args):
        real(*args)
        raise KeyboardInterrupt

    monkeypatch.setattr(text_finetune, '_save_state', save_then_stop)
    out = str(tmp_path / 'ft.npz')
    kw = dict(text=dict(model=tiny_text_model, device='cpu'),
              finetune=dict(epochs=2, lr=1e-3, batch_size=16), progress=False)
    with pytest.raises(KeyboardInterrupt):
        extract_features(out, meld_tables(meld_slice), log=lambda msg: None, **kw)
    assert not os.path.exists(out)
    monkeypatch.setattr(text_finetune, '_save_state', real)
    lines = []
    extract_features(out, meld_tables(meld_slice), log=lines.append, **kw)
    assert any(line.startswith('fine-tuning: resuming after epoch 1/2') for line in lines)
    recorded = load_native(out).extra['extractors']['text']['finetune']
    assert recorded['epochs_run'] == 2 and len(recorded['val_weighted_f1']) == 2


def _media_table(tmp_path, rows):
    path = tmp_path / 'conv.csv'
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['dialogue_id', 'utterance_id', 'speaker', 'text', 'label', 'media',
                    'start', 'end'])
        w.writerows(rows)
    return path


def test_audio_and_visual_from_media_files(tmp_path, tiny_text_model, stub_encoder):
    write_wav(tmp_path / 'a.wav', seconds=3.0)
    write_video(tmp_path / 'v.avi', seconds=2.0)
    wav_rows = [[f'd{d}', str(u), 'AB'[u % 2], 'oh my god', 'joy' if u else 'neutral',
                 'a.wav', u * 0.5, u * 0.5 + 0.5] for d in range(4) for u in range(3)]
    table = _media_table(tmp_path, wav_rows)
    out = str(tmp_path / 'av.npz')
    summary = extract_features(out, [TableSpec(str(table), 'train')],
                               modalities='auto', val_fraction=0.25, classes='meld',
                               text=dict(model=tiny_text_model, device='cpu'), **QUIET)
    coll = load_native(out)
    # a wav gives audio, not visual: the missing modality is absent, not zero-filled
    assert coll.modalities == ('text', 'audio') and summary['feature_dims']['audio'] == 88
    assert coll.speaker_names == ('A', 'B')
    with pytest.raises(ValueError, match="visual features need a video file"):
        extract_features(str(tmp_path / 'v1.npz'), [TableSpec(str(table), 'train')],
                         modalities=('text', 'visual'), val_fraction=0.25, classes='meld',
                         visual=dict(encoder=stub_encoder, face_detector=None),
                         text=dict(model=tiny_text_model, device='cpu'), **QUIET)
    vid_rows = [[f'd{d}', str(u), 'A', 'yes', 'joy', 'v.avi', u * 0.4, u * 0.4 + 0.4]
                for d in range(3) for u in range(4)]
    table = _media_table(tmp_path, vid_rows)
    out = str(tmp_path / 'v.npz')
    extract_features(out, [TableSpec(str(table), 'train')], modalities=('visual', ),
                     val_fraction=0.34, standardize=False, classes='meld',
                     visual=dict(encoder=stub_encoder, face_detector=None, num_frames=2),
                     **QUIET)
    coll = load_native(out)
    assert coll.modalities == ('visual', )
    feats = coll.dialogues[0]['features']['visual']
    assert feats.shape == (4, 4) and np.all(np.diff(feats[:, 3]) > 0)  # later = brighter


def test_audio_from_the_sound_track_of_videos(av_video_file, tiny_text_model, stub_encoder,
                                              tmp_path):
    """mp4 clips with sound give all three modalities; audio is decoded with PyAV."""
    from vega_mm.features import OpenSmileExtractor
    rows = [[f'd{d}', str(u), 'AB'[u % 2], 'oh my god', 'joy' if u else 'neutral',
             av_video_file.name, u * 0.6, u * 0.6 + 0.6] for d in range(3) for u in range(4)]
    table = _media_table(tmp_path, rows)
    out = str(tmp_path / 'clips.npz')
    summary = extract_features(out, [TableSpec(str(table), 'train')], modalities='auto',
                               val_fraction=0.34, standardize=False, classes='meld',
                               text=dict(model=tiny_text_model, device='cpu'),
                               visual=dict(encoder=stub_encoder, face_detector=None,
                                           num_frames=2), **QUIET)
    coll = load_native(out)
    assert coll.modalities == ('text', 'audio', 'visual')
    assert summary['feature_dims']['audio'] == 88 and len(coll.dialogues) == 3
    ext = OpenSmileExtractor('eGeMAPSv02')
    expected = np.stack([ext.extract_one(str(av_video_file), u * 0.6, u * 0.6 + 0.6)
                         for u in range(4)])
    for d in coll.dialogues:
        feats = d['features']['audio']
        assert feats.shape == (4, 88) and np.isfinite(feats).all()
        np.testing.assert_allclose(feats, expected, rtol=1e-5, atol=1e-5)
    # 330 Hz before 1.2 s, 880 Hz after: utterances 0-1 and 2-3 sound different
    assert not np.allclose(expected[0], expected[3], rtol=0.05)


def test_missing_and_short_media_stop_or_skip_whole_dialogues(tmp_path, tiny_text_model):
    write_wav(tmp_path / 'a.wav', seconds=2.0)
    rows = [[f'd{d}', str(u), 'A', 'no', 'joy', 'a.wav', 0.0, 1.0]
            for d in range(5) for u in range(2)]
    rows[3][5] = 'gone.wav'   # d1 utterance 1: missing file
    rows[6][7] = 4.0          # d3 utterance 0: segment beyond the end of the file
    table = _media_table(tmp_path, rows)
    kw = dict(modalities=('text', 'audio'), val_fraction=0.2, classes='meld',
              text=dict(model=tiny_text_model, device='cpu'), **QUIET)
    with pytest.raises(MediaError, match=r"conv\.csv:5: media file .*gone\.wav' does not "
                       'exist'):
        extract_features(str(tmp_path / 'e.npz'), [TableSpec(str(table), 'train')], **kw)
    only_short = _media_table(tmp_path, [r for i, r in enumerate(rows) if i != 3])
    with pytest.raises(MediaError, match=r'conv\.csv:7: segment ends at 4\.000s but .* '
                       r'lasts only 2\.000s'):
        extract_features(str(tmp_path / 'e.npz'), [TableSpec(str(only_short), 'train')],
                         overwrite=True, **kw)
    table = _media_table(tmp_path, rows)
    summary = extract_features(str(tmp_path / 's.npz'), [TableSpec(str(table), 'train')],
                               on_missing_media='skip', **kw)
    assert sorted(s['dialogue_id'] for s in summary['skipped']) == ['train/d1', 'train/d3']
    coll = load_native(str(tmp_path / 's.npz'))
    assert sorted(d['dialogue_id'] for d in coll.dialogues) == ['train/d0', 'train/d2',
                                                                'train/d4']
    assert len(coll.extra['skipped']) == 2


def test_modality_without_media_is_refused(meld_slice, tiny_text_model, tmp_path):
    with pytest.raises(ValueError, match='audio features were asked for but the utterance '
                       'has no media'):
        extract_features(str(tmp_path / 'x.npz'), meld_tables(meld_slice),
                         modalities=('text', 'audio'), **QUIET)


class CharStatsExtractor(BaseFeatureExtractor):
    """A toy text extractor: transcript length (times ``scale``) and its share of 'o'."""
    modality = 'text'

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale
        self.dim = 2

    @classmethod
    def usable(cls, utterances) -> bool:
        return all(u.text is not None for u in utterances)

    def config(self) -> dict:
        return dict(type='CharStatsExtractor', scale=self.scale, dim=self.dim)

    def extract(self, utterances) -> np.ndarray:
        return np.asarray([[self.scale * len(u.text), u.text.count('o') / max(len(u.text), 1)]
                           for u in utterances], dtype=np.float32)


@pytest.fixture
def char_stats_extractor():
    register_extractor()(CharStatsExtractor)
    yield CharStatsExtractor
    FEATURE_EXTRACTORS.module_dict.pop('CharStatsExtractor')


def test_a_registered_extractor_needs_no_pipeline_change(meld_slice, tmp_path,
                                                         char_stats_extractor):
    out = str(tmp_path / 'chars.npz')
    extract_features(out, meld_tables(meld_slice), modalities='auto', standardize=False,
                     text=dict(type='CharStatsExtractor', scale=2.0), **QUIET)
    coll = load_native(out)
    assert coll.feature_dims == {'text': 2}
    assert coll.extra['extractors'] == {'text': dict(type='CharStatsExtractor', scale=2.0,
                                                     dim=2)}
    with open(meld_slice / 'dev_sent_emo.csv', encoding='utf-8') as f:
        first = next(csv.DictReader(f))['Utterance']
    dev0 = next(d for d in coll.dialogues if d['dialogue_id'] == 'dev/0')
    assert dev0['features']['text'][0, 0] == 2.0 * len(first)
    with pytest.raises(ValueError, match="extractor 'OpenSmileExtractor' extracts 'audio'"):
        extract_features(str(tmp_path / 'bad.npz'), meld_tables(meld_slice),
                         text=dict(type='OpenSmileExtractor'), **QUIET)
    with pytest.raises(ValueError, match=r"unknown modality \['smell'\]"):
        extract_features(str(tmp_path / 'bad.npz'), meld_tables(meld_slice),
                         modalities=('text', 'smell'), **QUIET)


def test_dataset_reports_modalities_and_refuses_missing_ones(meld_file):
    from vega_mm.datasets import ConversationDataset
    out, _ = meld_file
    ds = ConversationDataset(ann_file=str(out), split='val')
    assert ds.metainfo['modalities'] == ('text', ) and ds.metainfo['feature_dims'] == {
        'text': 16}
    with pytest.raises(ValueError, match=r"modality \['visual'\] requested but the file has "
                       r"only \['text'\]"):
        ConversationDataset(ann_file=str(out), split='train', modalities=('text', 'visual'))


@pytest.mark.parametrize('finetune, message', [
    (dict(epochs=2, patience=0), 'patience must be None or a whole number >= 1'),
    (dict(epochs=1.5), 'epochs must be a whole number >= 0'),
    (dict(epochs=2, lr=0), 'lr must be a number > 0'),
    (dict(epochs=2, batch_size=0, max_length=1),
     'batch_size must be a whole number >= 1, got 0; max_length must be'),
])
def test_finetuning_settings_are_checked_before_any_work(finetune, message, meld_like,
                                                         tiny_text_model, tmp_path):
    out = str(tmp_path / 'x.npz')
    with pytest.raises(ValueError, match=message):
        extract_features(out, meld_tables(meld_like), finetune=finetune,
                         text=dict(model=tiny_text_model, device='cpu'), **QUIET)
    assert not os.path.exists(out + '.parts')


@pytest.mark.parametrize('config', ['configs/vega/vega_meld_text.py',
                                    'configs/sdt/sdt_meld_text.py'])
def test_text_configs_read_extracted_features(meld_file, config):
    """The benchmark configs read an extracted file as it is (only the tiny test
    encoder's dimension, 16 instead of MiniLM's 384, is overridden)."""
    import torch
    from mmengine.config import Config
    from vega_mm.datasets import conversation_collate
    from mmengine.registry import init_default_scope

    from vega_mm.registry import DATASETS, MODELS
    out, _ = meld_file
    root = Path(__file__).parents[2]
    cfg = Config.fromfile(str(root / config))
    init_default_scope('vega_mm')
    cfg.model.backbone.input_dims = dict(text=16)
    datasets = {}
    for split in ('train', 'val', 'test'):
        ds_cfg = cfg[f'{split}_dataloader'].dataset
        ds_cfg.update(data_root='', ann_file=str(out))
        datasets[split] = DATASETS.build(ds_cfg)
    assert [len(datasets[s]) for s in ('train', 'val', 'test')] == [18, 2, 6]
    model = MODELS.build(cfg.model)
    batch = model.data_preprocessor(conversation_collate([datasets['train'][i] for i in range(3)]),
                                    True)
    losses = model(**batch, mode='loss')
    assert all(torch.isfinite(v).all() for k, v in losses.items() if k.startswith('loss'))
    model.eval()
    batch = model.data_preprocessor(conversation_collate([datasets['test'][0]]), False)
    with torch.no_grad():
        pred = model(**batch, mode='predict')[0]
    assert pred.pred_label.shape == pred.gt_label.shape

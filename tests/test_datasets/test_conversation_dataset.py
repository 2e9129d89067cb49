import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from tests.utils import make_sdt_pickle, make_vega_pickle
from vega_mm.datasets import (ConversationDataset, conversation_collate, load_conversations,
                              save_native)
from vega_mm.registry import DATASETS
from vega_mm.structures import ConversationDataSample
from vega_mm.structures.meta import IEMOCAP_CLASSES, MELD_CLASSES

PIPELINE = [dict(type='PackConversationInputs')]


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('data')
    sdt = make_sdt_pickle(str(root / 'iemocap_sdt.pkl'), num_train=20, num_test=5)
    vega = make_vega_pickle(str(root / 'meld_vega.pkl'), dataset='meld')
    coll = load_conversations(sdt)
    native = save_native(str(root / 'iemocap.npz'), coll.dialogues, coll.classes, coll.splits,
                         speaker_names=coll.speaker_names)
    two = [dict(d, features={m: d['features'][m] for m in ('text', 'audio')})
           for d in coll.dialogues]
    text_audio = save_native(str(root / 'text_audio.npz'), two, coll.classes, coll.splits)
    return dict(root=str(root), sdt=sdt, vega=vega, native=native, text_audio=text_audio)


@pytest.mark.parametrize('key', ['sdt', 'native'])
@pytest.mark.parametrize('serialize', [True, False])
def test_splits_items_and_metainfo(files, key, serialize):
    coll = load_conversations(files[key])
    seen = []
    for split in ('train', 'val', 'test'):
        ds = DATASETS.build(dict(type='ConversationDataset', ann_file=files[key], split=split,
                                 serialize_data=serialize, pipeline=PIPELINE))
        assert len(ds) == len(coll.splits[split])
        meta = ds.metainfo
        assert meta['classes'] == IEMOCAP_CLASSES
        assert meta['modalities'] == ('text', 'audio', 'visual')
        assert meta['feature_dims'] == dict(text=32, audio=16, visual=8)
        assert meta['num_speakers'] == 2 and meta['speaker_names'] == ('M', 'F')
        for idx in range(len(ds)):
            raw = ds.get_data_info(idx)
            assert raw['dialogue_id'] == coll.splits[split][idx]
            assert raw['sample_idx'] == idx
            out = ds[idx]
            sample = out['data_samples']
            assert isinstance(sample, ConversationDataSample)
            n = len(raw['labels'])
            assert set(out['inputs']) == {'feats', 'speakers'}
            feats = out['inputs']['feats']
            assert set(feats) == {'text', 'audio', 'visual'}
            assert feats['audio'].shape == (n, 16)
            assert feats['audio'].dtype == torch.float32
            torch.testing.assert_close(feats['text'], torch.from_numpy(raw['features']['text']))
            assert out['inputs']['speakers'].tolist() == list(raw['speakers'])
            assert torch.equal(sample.gt_label, torch.from_numpy(raw['labels']))
            assert sample.metainfo['dialogue_id'] == raw['dialogue_id']
            assert sample.metainfo['num_utterances'] == n
            assert sample.metainfo['sample_idx'] == idx
            assert sample.metainfo['utterance_ids'] == raw['utterance_ids']
            seen.append(raw['dialogue_id'])
    assert sorted(seen) == sorted(d['dialogue_id'] for d in coll.dialogues)


def test_serialized_items_are_independent_copies(files):
    for serialize in (True, False):
        ds = ConversationDataset(files['native'], split='train', serialize_data=serialize)
        first = ds.get_data_info(0)
        first['features']['text'][:] = 123.0
        assert not (ds.get_data_info(0)['features']['text'] == 123.0).any()


def test_meld_vega_file_and_data_root(files):
    ds = ConversationDataset('meld_vega.pkl', data_root=files['root'], split='test',
                             pipeline=PIPELINE)
    assert ds.metainfo['classes'] == MELD_CLASSES and ds.metainfo['num_speakers'] == 9
    assert 'utterance_ids' not in ds[0]['data_samples'].metainfo
    assert ds.ann_file == os.path.join(files['root'], 'meld_vega.pkl')


def test_modalities_selection(files):
    ds = ConversationDataset(files['sdt'], split='val', modalities=('visual', 'text'),
                             pipeline=PIPELINE)
    assert ds.metainfo['modalities'] == ('visual', 'text')
    assert ds.metainfo['feature_dims'] == dict(visual=8, text=32)
    assert list(ds.get_data_info(0)['features']) == ['visual', 'text']
    assert list(ds[0]['inputs']['feats']) == ['visual', 'text']
    assert ConversationDataset(files['sdt'], modalities='audio').metainfo['modalities'] == (
        'audio', )


def test_missing_modality_is_named(files):
    assert ConversationDataset(files['text_audio']).metainfo['modalities'] == ('text', 'audio')
    with pytest.raises(ValueError) as info:
        ConversationDataset(files['text_audio'], modalities=('text', 'visual'))
    msg = str(info.value)
    assert 'text_audio.npz' in msg and "['visual']" in msg and "['text', 'audio']" in msg


def test_classes_argument_and_metainfo(files):
    names = ['a', 'b', 'c', 'd', 'e', 'f']
    assert ConversationDataset(files['sdt'], classes=names).metainfo['classes'] == tuple(names)
    ds = ConversationDataset(files['sdt'], metainfo=dict(classes=names))
    assert ds.metainfo['classes'] == tuple(names)
    with pytest.raises(ValueError, match=r'iemocap\.npz: classes .* were asked for'):
        ConversationDataset(files['native'], classes=names)


def test_lazy_init_and_bad_arguments(files):
    ds = ConversationDataset(files['sdt'], split='test', lazy_init=True)
    assert 'classes' not in ds.metainfo
    assert len(ds) == 5  # triggers full_init
    assert ds.metainfo['classes'] == IEMOCAP_CLASSES
    with pytest.raises(ValueError, match='split must be one of'):
        ConversationDataset(files['sdt'], split='dev')
    with pytest.raises(ValueError, match='needs ann_file'):
        ConversationDataset()
    with pytest.raises(ValueError, match=r'the val split holds no dialogues'):
        ConversationDataset(files['sdt'], split='val', val_ratio=0)
    with pytest.raises(FileNotFoundError, match='nope.pkl'):
        ConversationDataset(os.path.join(files['root'], 'nope.pkl'))


def test_val_options_and_cat_ids(files):
    a = ConversationDataset(files['sdt'], split='val', val_ratio=0.3, val_seed=5)
    b = ConversationDataset(files['sdt'], split='train', val_ratio=0.3, val_seed=5)
    assert len(a) == 6 and len(b) == 14
    ids_a = {a.get_data_info(i)['dialogue_id'] for i in range(len(a))}
    ids_b = {b.get_data_info(i)['dialogue_id'] for i in range(len(b))}
    assert not ids_a & ids_b
    labels = a.get_data_info(0)['labels']
    assert a.get_cat_ids(0) == sorted(set(labels.tolist()))


def test_dataloader_with_the_conversation_collate(files):
    ds = ConversationDataset(files['native'], split='train',
                             pipeline=[dict(type='FeatureDimMask', ratio=0.25, mode='fixed'),
                                       *PIPELINE])
    loader = DataLoader(ds, batch_size=3, collate_fn=conversation_collate, shuffle=False)
    batch = next(iter(loader))
    assert len(batch['inputs']['feats']['text']) == 3 and len(batch['data_samples']) == 3
    lengths = [s.num_utterances for s in batch['data_samples']]
    assert batch['inputs']['mask'].sum(1).tolist() == lengths
    zero_cols = (batch['inputs']['feats']['text'][0] == 0).all(dim=0).sum().item()
    assert zero_cols >= 8  # round(0.25 * 32) masked
    assert np.isfinite(batch['inputs']['feats']['audio'][1].numpy()).all()


def test_an_unlabelled_train_split_is_refused_before_training(files, tmp_path):
    coll = load_conversations(files['sdt'])
    blank = [dict(d, labels=np.full_like(d['labels'], -1)) for d in coll.dialogues]
    path = save_native(str(tmp_path / 'unlabelled.npz'), blank, coll.classes, coll.splits)
    with pytest.raises(ValueError, match=r'unlabelled\.npz: the train split has no labelled'):
        ConversationDataset(path, split='train', pipeline=PIPELINE)
    # evaluating or labelling such a file is fine
    assert len(ConversationDataset(path, split='test', pipeline=PIPELINE)) > 0
    assert len(ConversationDataset(path, split='train', test_mode=True, pipeline=PIPELINE)) > 0

"""Per-utterance sentiments (MELD's ``Sentiment`` column): read from the tables, kept
by feature extraction in the native file, put by the dataset in every data sample
(``gt_sentiment``); files without them still load and carry none."""
import csv

import numpy as np
import pytest

from tests.utils import MELD_HEADER, meld_sentiment, write_meld_like_table
from vega_mm.datasets import ConversationDataset, conversation_collate
from vega_mm.conversations import ConversationTableError, TableSpec, load_tables
from vega_mm.datasets.formats import load_native, save_native
from vega_mm.structures.meta import MELD_CLASSES, SENTIMENTS

QUIET = dict(log=lambda msg: None)


def _dialogues(n=3, sentiments=True, seed=0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        L = 3 + k
        d = dict(dialogue_id=f'd{k}', features=dict(text=rng.standard_normal((L, 4))),
                 speakers=np.zeros(L, np.int64), labels=rng.integers(0, 7, L))
        if sentiments:
            d['sentiments'] = np.asarray([-1, 0, 2, 1, 0][:L], np.int64)
        out.append(d)
    return out


def _save(path, dialogues):
    return save_native(str(path), dialogues, MELD_CLASSES,
                       dict(train=['d0', 'd1'], test=['d2']), num_speakers=1)


def test_meld_table_sentiments_follow_the_rows(tmp_path):
    table = write_meld_like_table(tmp_path / 'train_sent_emo.csv', 5)
    # one row without a sentiment: unknown (-1)
    rows = list(csv.reader(open(table, encoding='utf-8', newline='')))
    rows[3][4] = ''
    with open(table, 'w', encoding='utf-8', newline='') as f:
        csv.writer(f).writerows(rows)
    conv = load_tables([TableSpec(str(table), 'train')], **QUIET)
    assert conv.sentiments is not None
    for d in conv.dialogues:
        expected = [SENTIMENTS.index(r[4]) if r[4] else -1 for r in rows[1:]
                    if f'train/{r[5]}' == d.dialogue_id]
        assert conv.sentiments[d.dialogue_id].tolist() == expected
    assert -1 in np.concatenate(list(conv.sentiments.values()))


def test_a_table_without_the_column_has_no_sentiments_and_bad_values_are_named(tmp_path):
    plain = tmp_path / 'plain.csv'
    plain.write_text('dialogue_id,utterance_id,speaker,text,label\n0,0,A,hi there,joy\n'
                     '1,0,B,oh no,sadness\n', encoding='utf-8')
    conv = load_tables([TableSpec(str(plain), 'train')], classes='meld', val_fraction=0.5,
                       **QUIET)
    assert conv.sentiments is None
    bad = tmp_path / 'bad.csv'
    bad.write_text('dialogue_id,utterance_id,speaker,text,label,sentiment\n'
                   '0,0,A,hi,joy,positive\n1,0,B,oh no,sadness,sad\n', encoding='utf-8')
    with pytest.raises(ConversationTableError,
                       match=r"bad.csv:3: unknown sentiment 'sad' .*'negative', 'neutral', "
                             r"'positive'"):
        load_tables([TableSpec(str(bad), 'train')], classes='meld', **QUIET)


def test_extraction_keeps_meld_sentiments(tmp_path, tiny_text_model):
    from vega_mm.features import extract_features, meld_tables
    root = tmp_path / 'meld'
    root.mkdir()
    write_meld_like_table(root / 'train_sent_emo.csv', 6)
    write_meld_like_table(root / 'dev_sent_emo.csv', 2, seed=1)
    out = tmp_path / 'meld.npz'
    summary = extract_features(str(out), meld_tables(str(root)), modalities='text',
                               text=dict(model=tiny_text_model, device='cpu'),
                               progress=False, **QUIET)
    assert summary['sentiments'] is True
    coll = load_native(str(out))
    assert coll.has_sentiments
    for name, tag in (('train_sent_emo.csv', 'train'), ('dev_sent_emo.csv', 'dev')):
        with open(root / name, encoding='utf-8', newline='') as f:
            rows = list(csv.DictReader(f))
        for d in coll.dialogues:
            if not d['dialogue_id'].startswith(tag + '/'):
                continue
            mine = [r for r in rows if f"{tag}/{r['Dialogue_ID']}" == d['dialogue_id']]
            assert [SENTIMENTS[s] for s in d['sentiments']] == [r['Sentiment'] for r in mine]
            # the synthetic table gives each emotion MELD's sentiment (surprise: either)
            assert [SENTIMENTS[s] for s in d['sentiments']] == [
                meld_sentiment(r['Emotion'], int(r['Sr No.'])) for r in mine]
    surprise = np.concatenate([d['sentiments'][d['labels'] == 1] for d in coll.dialogues])
    # what deriving from the emotion cannot give: surprise's own sentiment
    assert len(surprise) and set(surprise.tolist()) <= {0, 2}


def test_native_round_trip_and_the_dataset_puts_them_in_the_samples(tmp_path):
    path = _save(tmp_path / 'with.npz', _dialogues())
    coll = load_native(path)
    assert coll.has_sentiments
    assert [d['sentiments'].tolist() for d in coll.dialogues] == [
        [-1, 0, 2], [-1, 0, 2, 1], [-1, 0, 2, 1, 0]]
    ds = ConversationDataset(path, split='train', pipeline=[dict(type='PackConversationInputs')])
    items = [ds[i] for i in range(len(ds))]
    assert [s['data_samples'].gt_sentiment.tolist() for s in items] == [
        [-1, 0, 2], [-1, 0, 2, 1]]
    assert items[0]['data_samples'].gt_sentiment.dtype.is_floating_point is False
    # the one collate passes them on unpadded, with their data samples
    batch = conversation_collate(items)
    assert batch['data_samples'][1].gt_sentiment.tolist() == [-1, 0, 2, 1]
    assert batch['inputs']['mask'].sum() == 7


def test_files_without_sentiments_still_load_and_carry_none(tmp_path):
    path = _save(tmp_path / 'without.npz', _dialogues(sentiments=False))
    with np.load(path) as npz:
        assert 'sentiments' not in npz.files
    coll = load_native(path)
    assert not coll.has_sentiments and 'sentiments' not in coll.dialogues[0]
    ds = ConversationDataset(path, split='train', pipeline=[dict(type='PackConversationInputs')])
    assert 'gt_sentiment' not in ds[0]['data_samples']


def test_bad_sentiments_are_refused_naming_the_file(tmp_path):
    mixed = _dialogues()
    del mixed[1]['sentiments']
    with pytest.raises(ValueError, match=r"mixed.npz: some dialogues carry sentiments and "
                                         r"some not \(e.g. 'd1'\)"):
        _save(tmp_path / 'mixed.npz', mixed)
    wrong = _dialogues()
    wrong[2]['sentiments'][1] = 3
    with pytest.raises(ValueError, match=r"wrong.npz: dialogue 'd2': sentiments\[1\] = 3 is "
                                         r'outside \[0, 3\)'):
        _save(tmp_path / 'wrong.npz', wrong)
    short = _dialogues()
    short[0]['sentiments'] = short[0]['sentiments'][:2]
    with pytest.raises(ValueError, match="dialogue 'd0': sentiments has 2 utterances"):
        _save(tmp_path / 'short.npz', short)
    # a file whose sentiments array does not match its utterances
    path = _save(tmp_path / 'cut.npz', _dialogues())
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays['sentiments'] = arrays['sentiments'][:-1]
    np.savez(tmp_path / 'cut.npz', **arrays)
    with pytest.raises(ValueError, match=r'cut.npz: sentiments must be an integer array \[12\]'):
        load_native(str(tmp_path / 'cut.npz'))


def test_meld_header_is_the_one_the_tests_write():
    # the column the readers look for is MELD's own header name
    assert 'Sentiment' in MELD_HEADER

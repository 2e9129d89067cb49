import json
import math
import os
import pickle

import numpy as np
import pytest

from tests.utils import (make_sdt_pickle, make_vega_pickle, sdt_items, vega_items,
                         write_pickle)
from vega_mm.conversations import CSV, JSONL, TABLE_FORMATS, read_conversation_table
from vega_mm.datasets.formats import (DATA_FORMATS, FEATURES, NATIVE, PICKLE, TABLE,
                                      InputFormat, accepted_suffixes, detect_format,
                                      input_formats, load_conversations, load_native,
                                      register_format, save_native)
from vega_mm.structures.meta import IEMOCAP_CLASSES, MELD_CLASSES
from vega_mm.structures.splits import natural_key
from vega_mm.structures.meta import IEMOCAP_CLASSES, MELD_CLASSES


def _by_id(coll):
    return {d['dialogue_id']: d for d in coll.dialogues}


def _assert_same_dialogues(a, b):
    assert [d['dialogue_id'] for d in a.dialogues] == [d['dialogue_id'] for d in b.dialogues]
    for x, y in zip(a.dialogues, b.dialogues):
        assert x['features'].keys() == y['features'].keys()
        for m in x['features']:
            np.testing.assert_array_equal(x['features'][m], y['features'][m])
        np.testing.assert_array_equal(x['speakers'], y['speakers'])
        np.testing.assert_array_equal(x['labels'], y['labels'])
        assert x.get('utterance_ids') == y.get('utterance_ids')


# ------------------------------------------------------------------ public pickles
@pytest.mark.parametrize('maker,items_fn', [(make_sdt_pickle, sdt_items),
                                            (make_vega_pickle, vega_items)])
def test_iemocap_pickles(tmp_path, maker, items_fn):
    path = maker(str(tmp_path / 'iemocap.pkl'), dataset='iemocap', dims=(12, 6, 4))
    items = items_fn(dataset='iemocap', dims=(12, 6, 4))
    coll = load_conversations(path)
    assert coll.data_format == ('sdt' if maker is make_sdt_pickle else 'vega')
    assert coll.classes == IEMOCAP_CLASSES
    assert coll.modalities == ('text', 'audio', 'visual')
    assert coll.feature_dims == dict(text=12, audio=6, visual=4)
    assert coll.num_speakers == 2 and coll.speaker_names == ('M', 'F')
    dialogues = _by_id(coll)
    for did, labels in items['videoLabels'].items():
        d = dialogues[did]
        np.testing.assert_array_equal(d['labels'], labels)
        assert d['labels'].dtype == np.int64 and d['speakers'].dtype == np.int64
        np.testing.assert_array_equal(d['speakers'],
                                      ['MF'.index(s) for s in items['videoSpeakers'][did]])
        text = np.asarray(items['videoText'][did], dtype=np.float32).reshape(len(labels), -1)
        np.testing.assert_array_equal(d['features']['text'], text)  # singleton squeezed
        np.testing.assert_allclose(d['features']['visual'], items['videoVisual'][did],
                                   rtol=1e-6)
        assert all(x.dtype == np.float32 for x in d['features'].values())
        if maker is make_sdt_pickle:
            assert d['utterance_ids'] == items['videoIDs'][did]
        else:
            assert 'utterance_ids' not in d
    assert coll.splits['test'] == sorted(items['testVid'])
    assert sorted(coll.splits['train'] + coll.splits['val']) == sorted(items['trainVid'])


@pytest.mark.parametrize('maker,items_fn', [(make_sdt_pickle, sdt_items),
                                            (make_vega_pickle, vega_items)])
def test_meld_pickles(tmp_path, maker, items_fn):
    path = maker(str(tmp_path / 'meld.pkl'), dataset='meld', num_train=11, num_test=4)
    items = items_fn(dataset='meld', num_train=11, num_test=4)
    coll = load_conversations(path)
    assert coll.classes == MELD_CLASSES
    assert coll.num_speakers == 9 and coll.speaker_names is None
    dialogues = _by_id(coll)
    for key, onehots in items['videoSpeakers'].items():
        np.testing.assert_array_equal(dialogues[str(key)]['speakers'],
                                      np.argmax(onehots, axis=1))
    # integer dialogue keys become strings, in numeric order
    assert coll.splits['test'] == ['11', '12', '13', '14']
    assert set(coll.splits['train']) | set(coll.splits['val']) == {str(i) for i in range(11)}
    ordered = [int(i) for i in coll.splits['train']]
    assert ordered == sorted(ordered)


def test_explicit_classes_and_dataset_name(tmp_path):
    path = make_vega_pickle(str(tmp_path / 'v.pkl'))
    names = ['a', 'b', 'c', 'd', 'e', 'f']
    assert load_conversations(path, classes=names).classes == tuple(names)
    items = vega_items()
    items['videoSpeakers'] = {k: [0] * len(v) for k, v in items['videoSpeakers'].items()}
    path = write_pickle(str(tmp_path / 'ints.pkl'), items, 4)
    with pytest.raises(ValueError, match=r'ints\.pkl: .*pass the class names'):
        load_conversations(path)
    coll = load_conversations(path, dataset_name='meld')
    assert coll.classes == MELD_CLASSES and coll.num_speakers == 9


def test_format_detection_and_explicit_format(tmp_path):
    sdt = make_sdt_pickle(str(tmp_path / 'features.pickle'))
    vega = make_vega_pickle(str(tmp_path / 'v.pkl'))
    assert load_conversations(sdt).data_format == 'sdt'
    assert load_conversations(sdt, data_format='sdt').data_format == 'sdt'
    with pytest.raises(ValueError, match=r"v\.pkl: data_format='sdt' accepts tuples of 12 or 13"):
        load_conversations(vega, data_format='sdt')
    with pytest.raises(ValueError, match='unknown data_format'):
        load_conversations(vega, data_format='csv')


# ------------------------------------------------------------------ validation split
def test_val_split_rule_and_determinism(tmp_path):
    path = make_sdt_pickle(str(tmp_path / 'a.pkl'), num_train=30, num_test=5)
    items = sdt_items(num_train=30, num_test=5)
    a = load_conversations(path)
    b = load_conversations(path)
    assert a.splits == b.splits
    train_ids = sorted((str(i) for i in items['trainVid']), key=natural_key)
    perm = np.random.default_rng(0).permutation(30)
    assert set(a.splits['val']) == {train_ids[j] for j in perm[:math.ceil(0.1 * 30)]}
    assert len(a.splits['val']) == 3
    assert not set(a.splits['val']) & set(a.splits['train'])
    assert set(a.splits['val']) | set(a.splits['train']) == set(train_ids)
    assert a.splits['test'] == sorted(items['testVid'])
    other = load_conversations(path, val_seed=1)
    assert other.splits['test'] == a.splits['test']
    assert set(other.splits['val']) != set(a.splits['val'])
    bigger = load_conversations(path, val_ratio=0.25)
    assert len(bigger.splits['val']) == 8
    assert load_conversations(path, val_ratio=0).splits['val'] == []


def test_val_split_of_integer_ids_is_numeric(tmp_path):
    """MELD's pickles have integer dialogue ids: 2 comes before 10, not after it."""
    path = make_sdt_pickle(str(tmp_path / 'm.pkl'), dataset='meld', num_train=12, num_test=2)
    val = load_conversations(path, val_ratio=0.25, val_seed=4).splits['val']
    perm = np.random.default_rng(4).permutation(12)
    assert set(val) == {str(j) for j in perm[:3]}  # natural order 0..11: index == id


# ------------------------------------------------------------------ native format
@pytest.mark.parametrize('maker,dataset', [(make_sdt_pickle, 'iemocap'),
                                           (make_sdt_pickle, 'meld'),
                                           (make_vega_pickle, 'iemocap')])
def test_native_round_trip(tmp_path, maker, dataset):
    src = load_conversations(maker(str(tmp_path / 'in.pkl'), dataset=dataset))
    out = save_native(str(tmp_path / 'out.npz'), src.dialogues, src.classes, src.splits,
                      speaker_names=src.speaker_names, extra=dict(note='x', n=[1, 2]),
                      num_speakers=src.num_speakers)
    back = load_conversations(out)
    assert back.data_format == 'native'
    _assert_same_dialogues(src, back)
    assert back.splits == src.splits
    assert back.classes == src.classes and back.modalities == src.modalities
    assert back.feature_dims == src.feature_dims
    assert back.num_speakers == src.num_speakers
    assert back.speaker_names == src.speaker_names
    assert back.extra == dict(note='x', n=[1, 2])
    with np.load(out, allow_pickle=False) as npz:  # the documented layout
        assert set(npz.files) == {'feat_text', 'feat_audio', 'feat_visual', 'speakers',
                                  'labels', 'offsets', 'meta'}
        assert npz['offsets'][-1] == len(npz['labels']) == len(npz['feat_text'])
        meta = json.loads(str(npz['meta']))
        assert meta['format'] == 'vega_mm.conversations' and meta['version'] == 1


def test_native_keeps_unlabelled_and_checks_classes(tmp_path):
    src = load_conversations(make_vega_pickle(str(tmp_path / 'in.pkl')))
    src.dialogues[0]['labels'][:] = -1
    out = save_native(str(tmp_path / 'out.npz'), src.dialogues, src.classes, src.splits)
    back = load_native(out)
    assert (back.dialogues[0]['labels'] == -1).all()
    assert back.num_speakers == 2  # largest index + 1
    with pytest.raises(ValueError, match=r"out\.npz: classes \['x'\] were asked for"):
        load_conversations(out, classes=['x'])


def test_native_write_is_atomic(tmp_path):
    src = load_conversations(make_vega_pickle(str(tmp_path / 'in.pkl')))
    out = str(tmp_path / 'out.npz')
    save_native(out, src.dialogues, src.classes, src.splits)
    before = open(out, 'rb').read()
    with pytest.raises(ValueError, match='JSON'):
        save_native(out, src.dialogues, src.classes, src.splits, extra=dict(bad=object()))
    with pytest.raises(ValueError, match=r"out\.npz: dialogue .*labels\[0\] = 9"):
        broken = [dict(d) for d in src.dialogues]
        broken[1]['labels'] = broken[1]['labels'].copy()
        broken[1]['labels'][0] = 9
        save_native(out, broken, src.classes, src.splits)
    assert open(out, 'rb').read() == before
    assert sorted(os.listdir(tmp_path)) == ['in.pkl', 'out.npz']  # no temp file left
    save_native(out, src.dialogues[:3], src.classes, dict(train=[src.dialogues[0]['dialogue_id']]))
    assert len(load_native(out).dialogues) == 3


def test_native_without_val_split_gets_one(tmp_path):
    src = load_conversations(make_vega_pickle(str(tmp_path / 'in.pkl'), num_train=20))
    out = str(tmp_path / 'out.npz')
    save_native(out, src.dialogues, src.classes,
                dict(train=src.splits['train'] + src.splits['val'], test=src.splits['test']))
    with np.load(out, allow_pickle=False) as npz:
        arrays = dict(npz)
    meta = json.loads(str(arrays['meta']))
    del meta['splits']['val']
    arrays['meta'] = np.array(json.dumps(meta))
    np.savez(out, **arrays)
    coll = load_conversations(out)
    assert set(coll.splits['val']) == set(src.splits['val'])  # same rule as the pickles


def test_native_rejects_foreign_files(tmp_path):
    obj = str(tmp_path / 'obj.npz')
    np.savez(obj, meta=np.array([{'a': 1}], dtype=object))
    with pytest.raises(ValueError, match=r'obj\.npz'):
        load_native(obj)
    other = str(tmp_path / 'other.npz')
    np.savez(other, x=np.zeros(3))
    with pytest.raises(ValueError, match=r"other\.npz: no 'meta' array"):
        load_conversations(other)


# ------------------------------------------------------------------ bad inputs
IEMO_FIRST = 'Ses01F_impro00'
IEMO_SECOND = 'Ses02F_impro01'


def _set_utterances(items, did, n):
    for key in ('videoSpeakers', 'videoLabels', 'videoText', 'videoAudio', 'videoVisual'):
        items[key][did] = list(items[key][did])[:n]


def _nan_visual(items):
    items['videoVisual'][IEMO_SECOND][2][1] = float('nan')


def _inf_audio(items):
    items['videoAudio'][IEMO_FIRST][3, 0] = np.inf


BAD_CASES = {
    'text_count': (lambda it: it['videoText'][IEMO_FIRST].append(np.zeros(32, np.float32)),
                   rf"dialogue '{IEMO_FIRST}': text has \d+ utterances but labels has \d+"),
    'audio_count': (lambda it: it['videoAudio'].__setitem__(
        IEMO_FIRST, it['videoAudio'][IEMO_FIRST][:-1]),
                    rf"dialogue '{IEMO_FIRST}': audio has \d+ utterances but labels has \d+"),
    'speaker_count': (lambda it: it['videoSpeakers'][IEMO_SECOND].pop(),
                      rf"dialogue '{IEMO_SECOND}': speakers has \d+ utterances but labels"),
    'label_range': (lambda it: it['videoLabels'][IEMO_SECOND].__setitem__(1, 6),
                    rf"dialogue '{IEMO_SECOND}': labels\[1\] = 6 is outside \[0, 6\) for "
                    r"classes \['happy', 'sad', 'neutral', 'anger', 'excited', 'frustration'\]"),
    'negative_label': (lambda it: it['videoLabels'][IEMO_SECOND].__setitem__(0, -3),
                       rf"dialogue '{IEMO_SECOND}': labels\[0\] = -3 is outside"),
    'dims': (lambda it: it['videoAudio'].__setitem__(
        IEMO_SECOND, it['videoAudio'][IEMO_SECOND][:, :15]),
             rf"dialogue '{IEMO_SECOND}': audio features have 15 dims but 16 in dialogue "
             rf"'{IEMO_FIRST}'"),
    'nan': (_nan_visual,
            rf"dialogue '{IEMO_SECOND}': visual features hold NaN at utterance 2"),
    'inf': (_inf_audio, rf"dialogue '{IEMO_FIRST}': audio features hold Inf at utterance 3"),
    'empty': (lambda it: _set_utterances(it, IEMO_SECOND, 0),
              rf"dialogue '{IEMO_SECOND}' has no utterances"),
    'split_ids': (lambda it: it['trainVid'].append('Ses09X_ghost'),
                  r"trainVid names 1 dialogue\(s\) not in the data .*Ses09X_ghost"),
    'two_splits': (lambda it: it['testVid'].add(IEMO_FIRST),
                   rf"dialogue '{IEMO_FIRST}' is in both trainVid and testVid"),
    'missing_modality_entry': (lambda it: it['videoVisual'].pop(IEMO_SECOND),
                               rf"dialogue '{IEMO_SECOND}' has labels but no entry in "
                               'videoVisual'),
    'non_numeric': (lambda it: it['videoText'].__setitem__(IEMO_FIRST, ['a', 'b']),
                    rf"dialogue '{IEMO_FIRST}': text is not a numeric array"),
    'field_not_dict': (lambda it: it.__setitem__('videoAudio', [1, 2]),
                       'videoAudio must be a dict keyed by dialogue id'),
}


@pytest.mark.parametrize('case', sorted(BAD_CASES))
def test_bad_input_is_named(tmp_path, case):
    mutate, pattern = BAD_CASES[case]
    items = sdt_items()
    mutate(items)
    path = write_pickle(str(tmp_path / 'iemocap.pkl'), items, 2)
    with pytest.raises(ValueError, match=r'iemocap\.pkl: ' + '.*' + pattern):
        load_conversations(path)


@pytest.mark.parametrize('obj,pattern', [
    (tuple(range(5)), r'holds a tuple of 5 items; expected 12 or 13 items .* or 7 items'),
    ({'videoLabels': {}}, r'holds a dict; expected a tuple'),
])
def test_wrong_container(tmp_path, obj, pattern):
    path = str(tmp_path / 'wrong.pkl')
    with open(path, 'wb') as f:
        pickle.dump(obj, f)
    with pytest.raises(ValueError, match=r'wrong\.pkl: ' + pattern):
        load_conversations(path)


def test_missing_file_and_hostile_pickle(tmp_path):
    with pytest.raises(FileNotFoundError, match='absent.pkl'):
        load_conversations(str(tmp_path / 'absent.pkl'))
    with pytest.raises(FileNotFoundError, match='absent.npz'):
        load_conversations(str(tmp_path / 'absent.npz'))
    items = sdt_items()
    items['videoSentence'] = {'x': np.array([print], dtype=object)}
    path = write_pickle(str(tmp_path / 'evil.pkl'), items, 2)
    with pytest.raises(ValueError, match=r"evil\.pkl: refusing to load 'builtins\.print'"):
        load_conversations(path)


def test_other_layouts_of_the_public_files(tmp_path):
    """Per-utterance [1, D] vectors, splits as ranges, bytes speaker names."""
    items = vega_items(dataset='meld', num_train=6, num_test=2)
    items['videoText'] = {k: [row[None] for row in v] for k, v in items['videoText'].items()}
    items['trainVid'], items['testVid'] = range(6), range(6, 8)
    coll = load_conversations(write_pickle(str(tmp_path / 'm.pkl'), items, 4))
    assert coll.feature_dims['text'] == 32
    assert coll.splits['test'] == ['6', '7']
    items = vega_items()
    items['videoSpeakers'] = {k: [s.encode() for s in v] for k, v in items['videoSpeakers'].items()}
    coll = load_conversations(write_pickle(str(tmp_path / 'b.pkl'), items, 4))
    assert coll.speaker_names == ('M', 'F') and coll.classes == IEMOCAP_CLASSES


@pytest.mark.parametrize('row,shown', [
    ([1, 1, 0, 0, 0, 0, 0, 0, 0], r'\[1\. 1\. 0\..*\]'),
    ([float('nan'), 1, 0, 0, 0, 0, 0, 0, 0], r'\[nan'),
    ([0.5, 0.5, 0, 0, 0, 0, 0, 0, 0], r'\[0\.5'),
    ([0] * 9, r'\[0\. 0\.'),
])
def test_speaker_vectors_that_are_not_one_hot_are_refused(tmp_path, row, shown):
    items = sdt_items(dataset='meld', num_train=6, num_test=2)
    items['videoSpeakers'][3][2] = row
    path = write_pickle(str(tmp_path / 'meld.pkl'), items, 2)
    with pytest.raises(ValueError, match=r"meld\.pkl: dialogue '3': speakers\[2\] "
                       r'\(utterance 2\) is ' + shown + r'.*expected a one-hot vector '
                       r'\(exactly one 1, the rest 0\)'):
        load_conversations(path)


@pytest.mark.parametrize('case', [str.lower, str.upper, lambda s: f' {s.lower()} '])
def test_iemocap_speakers_map_m_to_0_and_f_to_1_in_any_case(tmp_path, case):
    items = vega_items()
    reference = {k: [0 if s == 'M' else 1 for s in v] for k, v in items['videoSpeakers'].items()}
    items['videoSpeakers'] = {k: [case(s) for s in v] for k, v in items['videoSpeakers'].items()}
    first = next(iter(items['videoSpeakers']))
    items['videoSpeakers'][first][0] = 'M' if reference[first][0] == 0 else 'F'  # mixed case
    coll = load_conversations(write_pickle(str(tmp_path / 'case.pkl'), items, 4))
    assert coll.speaker_names == ('M', 'F') and coll.num_speakers == 2
    for did, d in _by_id(coll).items():
        assert d['speakers'].tolist() == reference[did]


def test_other_speaker_names_are_one_speaker_whatever_their_case(tmp_path):
    items = vega_items(num_train=3, num_test=1)
    keys = list(items['videoSpeakers'])
    names = ['Ann', 'ann', 'Bob']
    items['videoSpeakers'] = {k: [names[i % 3] for i in range(len(v))]
                              for k, v in items['videoSpeakers'].items()}
    coll = load_conversations(write_pickle(str(tmp_path / 'names.pkl'), items, 4),
                              dataset_name='iemocap')
    assert coll.speaker_names == ('Ann', 'Bob') and coll.num_speakers == 2
    assert _by_id(coll)[keys[0]]['speakers'].tolist()[:3] == [0, 0, 1]


# ------------------------------------------------------------------ the format registry
def test_registry_lists_every_input_format():
    assert DATA_FORMATS == ('auto', 'sdt', 'vega', 'native')
    assert TABLE_FORMATS == ('auto', 'meld', 'csv', 'jsonl')
    assert [(f.name, f.kind) for f in input_formats()] == [
        ('pickle', FEATURES), ('native', FEATURES), ('csv', TABLE), ('jsonl', TABLE),
        ('srt', TABLE), ('vtt', TABLE)]
    assert accepted_suffixes(FEATURES) == ('.pkl', '.pickle', '.npz')
    assert accepted_suffixes(TABLE) == ('.csv', '.tsv', '.jsonl', '.ndjson', '.srt', '.vtt')
    with pytest.raises(ValueError, match=r"'\.npz'\] already belong\(s\) to format 'native'"):
        register_format(InputFormat('mine', FEATURES, ('.npz', ), lambda p, h: False, print))
    with pytest.raises(ValueError, match="kind must be one of"):
        InputFormat('mine', 'images', ('.png', ), lambda p, h: False, print)


def test_content_is_sniffed_when_the_suffix_is_missing_or_wrong(tmp_path):
    sdt = make_sdt_pickle(str(tmp_path / 'features.pkl'))
    no_suffix = str(tmp_path / 'features')
    os.rename(sdt, no_suffix)
    assert detect_format(no_suffix) is PICKLE
    assert load_conversations(no_suffix).data_format == 'sdt'
    src = load_conversations(make_vega_pickle(str(tmp_path / 'v.pkl')))
    npz = save_native(str(tmp_path / 'out.npz'), src.dialogues, src.classes, src.splits)
    for name in ('out.dat', 'zipped.pkl'):  # a native file under another name
        os.rename(npz, tmp_path / name)
        npz = str(tmp_path / name)
        assert detect_format(npz) is NATIVE
        assert load_conversations(npz).data_format == 'native'
    jsonl = tmp_path / 'transcript.txt'
    jsonl.write_text('{"dialogue_id": "d", "utterance_id": 0, "text": "hi"}\n')
    assert detect_format(str(jsonl)) is JSONL and detect_format(str(jsonl)).kind == TABLE
    assert read_conversation_table(str(jsonl))[2] == 'jsonl'
    tsv = tmp_path / 'table'
    tsv.write_text('dialogue_id\tutterance_id\ttext\nd\t0\thi, there\n')
    assert detect_format(str(tsv)) is CSV
    utts, _, fmt = read_conversation_table(str(tsv))
    assert fmt == 'csv' and utts[0].text == 'hi, there'  # tab-separated, as its header says


def test_a_table_is_a_table_and_not_a_feature_file(tmp_path):
    table = tmp_path / 't.csv'
    table.write_text('dialogue_id,utterance_id,speaker,text\nd,0,A,hi\n')
    assert detect_format(str(table)).kind == TABLE
    assert detect_format(str(table), kind=TABLE) is CSV
    with pytest.raises(ValueError, match=r"t\.csv: a comma- or tab-separated conversation "
                       r"table, but a feature file \(\.pkl, \.pickle, \.npz\) is needed here "
                       r"\(tools/extract_features\.py"):
        load_conversations(str(table))
    pkl = make_vega_pickle(str(tmp_path / 'v.pkl'))
    with pytest.raises(ValueError, match=r"v\.pkl: an SDT/MMGCN or VEGA feature pickle, but a "
                       r"conversation table \(\.csv, \.tsv, \.jsonl, \.ndjson, \.srt, \.vtt\) "
                       r"is needed"):
        read_conversation_table(pkl)


def test_unknown_format_names_the_file_and_the_accepted_suffixes(tmp_path):
    notes = tmp_path / 'notes.txt'
    notes.write_text('just some words\n')
    accepted = (r"notes\.txt: not a format vega_mm reads: its suffix \.txt is not one of a "
                r"feature file \(\.pkl, \.pickle, \.npz\) or a conversation table \(\.csv, "
                r"\.tsv, \.jsonl, \.ndjson, \.srt, \.vtt\)")
    with pytest.raises(ValueError, match=accepted):
        detect_format(str(notes))
    with pytest.raises(ValueError, match=r"notes\.txt: not a format .* one of a feature file "
                       r"\(\.pkl, \.pickle, \.npz\), and its content looks like none of the "
                       r"formats \['pickle', 'native'\]"):
        load_conversations(str(notes))
    with pytest.raises(FileNotFoundError, match=r'absent\.txt: no such file'):
        detect_format(str(tmp_path / 'absent.txt'))
    assert detect_format(str(tmp_path / 'absent.npz')) is NATIVE  # by its suffix
    with pytest.raises(ValueError, match=r"unknown table format 'xml'; expected one of "
                       r"\('auto', 'meld', 'csv', 'jsonl', 'srt', 'vtt'\)"):
        read_conversation_table(str(notes), fmt='xml')

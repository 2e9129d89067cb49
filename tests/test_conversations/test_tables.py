"""Reading conversation tables: encodings, bad rows, ordering, splits and speakers."""
import json
import os
import shutil

import numpy as np
import pytest

from tests.test_features.conftest import meld_dir, meld_slice  # noqa: F401
from vega_mm.conversations import (ConversationTableError, TableSpec, build_speaker_map,
                                   decode_table_bytes, group_dialogues, load_tables,
                                   meld_tables, parse_time, read_conversation_table)

HEADER = 'dialogue_id,utterance_id,speaker,text,label\n'


def write(tmp_path, name, content, binary=False):
    path = tmp_path / name
    if binary:
        path.write_bytes(content)
    else:
        path.write_text(content, encoding='utf-8')
    return path


def test_cp1252_bytes_inside_utf8_are_decoded_and_reported(tmp_path):
    data = (HEADER + 'd1,0,Ann,caf\u00e9 it\u2019s,joy\n').encode('utf-8') + \
        b'd1,1,Bob,I\x92m fine \x96 really,neutral\n'
    path = write(tmp_path, 't.csv', data, binary=True)
    utts, repairs, _ = read_conversation_table(str(path))
    assert [u.text for u in utts] == ['caf\u00e9 it\u2019s', 'I\u2019m fine \u2013 really']
    assert repairs.cp1252_bytes == [(3, '\u2019'), (3, '\u2013')]
    assert 'line(s) [3]' in repairs.summary()


def test_undecodable_byte_names_file_and_line(tmp_path):
    data = (HEADER + 'd1,0,Ann,hello,joy\n').encode() + b'd1,1,Bob,bad \x81 byte,joy\n'
    path = write(tmp_path, 'bad.csv', data, binary=True)
    with pytest.raises(ConversationTableError, match=r'bad\.csv: line 3: byte 0x81'):
        read_conversation_table(str(path))


def test_decode_plain_utf8_with_bom():
    text, repairs = decode_table_bytes('\ufeffa,b\n'.encode('utf-8'))
    assert text == 'a,b\n' and len(repairs) == 0


def test_mojibake_is_repaired_and_reported(tmp_path):
    path = write(tmp_path, 't.csv', HEADER + 'd1,0,Ann,You must\u00e2\u20ac\u2122ve,joy\n')
    utts, repairs, _ = read_conversation_table(str(path))
    assert utts[0].text == 'You must\u2019ve'
    assert len(repairs.mojibake) == 1
    utts, _, _ = read_conversation_table(str(path), fix_mojibake=False)
    assert utts[0].text == 'You must\u00e2\u20ac\u2122ve'


def test_duplicated_ids_are_an_error_naming_both_lines(tmp_path):
    path = write(tmp_path, 'dup.csv',
                 HEADER + 'd1,0,Ann,a,joy\nd1,1,Bob,b,joy\nd1,0,Ann,c,joy\n')
    with pytest.raises(ConversationTableError,
                       match=r"dup\.csv:4: duplicated \(dialogue, utterance\) id \('d1', '0'\)"
                       r', first seen on line 2'):
        read_conversation_table(str(path))


def test_unknown_emotion_is_an_error_with_known_classes(tmp_path):
    path = write(tmp_path, 'emo.csv', HEADER + 'd1,0,Ann,a,joy\nd1,1,Bob,b,bored\n')
    with pytest.raises(ConversationTableError, match=r"emo\.csv:3: unknown emotion 'bored'.*"
                       r"known classes: \['joy', 'neutral'\]"):
        load_tables([TableSpec(str(path))], classes=('joy', 'neutral'), log=lambda m: None)


def test_missing_id_column_and_empty_ids(tmp_path):
    path = write(tmp_path, 'noid.csv', 'speaker,text\nAnn,hi\n')
    with pytest.raises(ConversationTableError, match='no dialogue id column'):
        read_conversation_table(str(path))
    path = write(tmp_path, 'empty.csv', HEADER + 'd1,,Ann,hi,joy\n')
    with pytest.raises(ConversationTableError, match=r"empty\.csv:2: column 'utterance_id' is "
                       'empty'):
        read_conversation_table(str(path))


def test_ragged_csv_row_is_an_error(tmp_path):
    path = write(tmp_path, 'ragged.csv', HEADER + 'd1,0,Ann,hi, there,joy\n')
    with pytest.raises(ConversationTableError, match=r'line 2: 6 fields but the header has 5'):
        read_conversation_table(str(path))


def test_utterances_are_ordered_by_id_and_gaps_are_kept(tmp_path):
    path = write(tmp_path, 't.csv', HEADER + 'd1,10,Ann,ten,joy\nd1,2,Bob,two,joy\n'
                 'd2,0,Ann,x,joy\nd1,3,Cy,three,joy\n')
    utts, _, _ = read_conversation_table(str(path))
    dialogues = group_dialogues(utts)
    assert [d.dialogue_id for d in dialogues] == ['d1', 'd2']
    assert [u.utterance_id for u in dialogues[0].utterances] == ['2', '3', '10']
    assert [u.text for u in dialogues[0].utterances] == ['two', 'three', 'ten']


def test_jsonl_with_times_and_media(tmp_path):
    rows = [dict(dialogue_id='a', utterance_id='u1', speaker='S', text='hi', label='joy',
                 media='clip.wav', start='00:00:01,500', end=2.75),
            dict(dialogue_id='a', utterance_id='u0', speaker='T', text='yo', label='')]
    path = write(tmp_path, 't.jsonl', '\n'.join(json.dumps(r) for r in rows) + '\n')
    utts, _, fmt = read_conversation_table(str(path), media_dir='/media')
    assert fmt == 'jsonl'
    assert (utts[0].start, utts[0].end, utts[0].media) == (1.5, 2.75, '/media/clip.wav')
    assert utts[1].label is None and utts[1].media is None
    # non-integer ids keep the file order
    assert [u.utterance_id for u in group_dialogues(utts)[0].utterances] == ['u1', 'u0']


def test_bad_segments_are_errors(tmp_path):
    path = write(tmp_path, 't.csv', 'dialogue_id,utterance_id,text,start,end\nd,0,a,3.0,2.0\n')
    with pytest.raises(ConversationTableError, match=r't\.csv:2: segment end 2\.000s is not '
                       r'after its start 3\.000s'):
        read_conversation_table(str(path))
    with pytest.raises(ConversationTableError, match="time 'soon'"):
        parse_time('soon', 'x')
    assert parse_time('01:02:03.5') == 3723.5 and parse_time('') is None


def test_meld_header_is_detected_and_media_template_used(meld_slice):
    utts, _, fmt = read_conversation_table(str(meld_slice / 'train_sent_emo.csv'),
                                           media_dir='/clips')
    assert fmt == 'meld'
    assert utts[0].media == '/clips/dia0_utt0.mp4'
    assert utts[0].start is None  # episode times are not clip times
    assert utts[0].text.startswith('also I was the point person')


def test_speaker_map_keeps_frequent_speakers_and_pools_others():
    train = ['A'] * 5 + ['B'] * 4 + ['C'] * 3 + ['D'] * 2 + ['E']
    mapping, names = build_speaker_map(train, train + ['Z'], max_speakers=3)
    assert names == ['A', 'B', 'other']
    assert [mapping[n] for n in 'ABCDEZ'] == [0, 1, 2, 2, 2, 2]
    # IEMOCAP's two speakers: M = 0, F = 1 whatever their counts (the pickles' order)
    mapping, names = build_speaker_map(['M', 'F', 'F'], ['M', 'F'], max_speakers=9)
    assert names == ['M', 'F'] and mapping == {'M': 0, 'F': 1}


def test_load_tables_on_meld_slice(meld_slice):
    conv = load_tables([TableSpec(str(meld_slice / 'train_sent_emo.csv'), 'train'),
                        TableSpec(str(meld_slice / 'dev_sent_emo.csv'), 'test')],
                       log=lambda m: None)
    splits = conv.split_ids()
    assert len(splits['train']) == 18 and len(splits['val']) == 2
    assert splits['test'][0] == 'dev/0'
    assert conv.classes[0] == 'neutral' and len(conv.speaker_names) == 9
    assert conv.speaker_names[-1] == 'other'
    d0 = next(d for d in conv.dialogues if d.dialogue_id == 'train/0')
    assert conv.labels['train/0'].tolist() == [
        conv.classes.index(u.label) for u in d0.utterances]
    assert np.all(conv.speakers(d0) < 9)


def test_meld_tables_follow_the_test_file_rule(meld_slice, tmp_path):
    """Without test_sent_emo.csv dev is the test split (validation is held out of
    train); with it, dev is the validation split."""
    specs = meld_tables(str(meld_slice), media_dirs=dict(dev='/clips/dev'))
    assert [(os.path.basename(t.path), t.split, t.fmt, t.media_dir) for t in specs] == [
        ('train_sent_emo.csv', 'train', 'meld', None),
        ('dev_sent_emo.csv', 'test', 'meld', '/clips/dev')]
    for name in ('train', 'dev'):
        shutil.copy(meld_slice / f'{name}_sent_emo.csv', tmp_path / f'{name}_sent_emo.csv')
    shutil.copy(meld_slice / 'dev_sent_emo.csv', tmp_path / 'test_sent_emo.csv')
    assert [t.split for t in meld_tables(str(tmp_path))] == ['train', 'val', 'test']
    conv = load_tables(meld_tables(str(tmp_path)), log=lambda m: None)
    assert conv.val_rule is None and conv.split_ids()['val'][0] == 'dev/0'
    assert conv.split_ids()['test'][0] == 'test/0'
    os.remove(tmp_path / 'train_sent_emo.csv')
    with pytest.raises(FileNotFoundError, match='train_sent_emo.csv does not exist'):
        meld_tables(str(tmp_path))

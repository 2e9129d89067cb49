"""Conversation tables a careless or hostile user may give: every one is an error naming
the file and line, or a documented, stable result."""
import codecs
import csv

import pytest

from tests.test_conversations.test_tables import HEADER, write
from vega_mm.conversations import (ConversationTableError, TableSpec, build_speaker_map,
                                   dialogue_from_records, load_tables,
                                   read_conversation_table)

QUIET = dict(log=lambda m: None)


def test_undeclared_classes_of_a_generic_table_are_an_error(tmp_path):
    path = write(tmp_path, 't.csv', HEADER + 'd1,0,Ann,a,joy\nd1,1,Bob,b,jealousy\n')
    with pytest.raises(ConversationTableError, match="class list is not declared.*'discover'"):
        load_tables([TableSpec(str(path))], **QUIET)
    # a typo is an error once the classes are named (here: a known dataset's)
    with pytest.raises(ConversationTableError, match=r"t\.csv:3: unknown emotion 'jealousy'"):
        load_tables([TableSpec(str(path))], classes='meld', **QUIET)
    # discovering them is a declared choice
    conv = load_tables([TableSpec(str(path))], classes='discover', val_fraction=0.5, **QUIET)
    assert conv.classes == ('jealousy', 'joy')


@pytest.mark.parametrize('text', ['', '   '])
def test_empty_or_whitespace_text_is_an_error_in_tables_and_records(tmp_path, text):
    """One validator: a table row and an inference record are refused alike."""
    path = write(tmp_path, 't.csv', HEADER + f'd1,0,Ann,hello,joy\nd1,1,Bob,"{text}",joy\n')
    with pytest.raises(ConversationTableError, match=r"t\.csv:3: column 'text' is empty "
                       r"\(dialogue 'd1', utterance '1'\); every utterance needs its "
                       'transcript'):
        read_conversation_table(str(path))
    with pytest.raises(ConversationTableError, match=r"conversation 'd1', utterance 1: text is "
                       r"empty \(dialogue 'd1', utterance '1'\); every utterance needs its "
                       'transcript'):
        dialogue_from_records([dict(speaker='Ann', text='hello'),
                               dict(speaker='Bob', text=text)], 'd1')


def test_records_are_checked_like_table_rows():
    dia = dialogue_from_records([dict(speaker=' Ann ', text=' hi ', start='00:00:01,5',
                                      end=2, label=' joy '), dict(text='yo', speaker=3)], 'c')
    first, second = dia.utterances
    assert (first.speaker, first.text, first.start, first.end, first.label) == (
        'Ann', 'hi', 1.5, 2.0, 'joy')
    assert (second.utterance_id, second.speaker, second.label) == ('1', 3, None)
    assert dia.dialogue_id == 'c' and dia.split == 'test'
    with pytest.raises(ConversationTableError, match=r"conversation 'c', utterance 0: segment "
                       r'end 1\.000s is not after its start 2\.000s'):
        dialogue_from_records([dict(text='a', start=2, end=1)], 'c')
    with pytest.raises(ConversationTableError, match=r"utterance 0: start: time 'soon'"):
        dialogue_from_records([dict(text='a', start='soon')], 'c')
    with pytest.raises(ConversationTableError, match=r"unknown keys \['txt'\]"):
        dialogue_from_records([dict(txt='a')], 'c')
    with pytest.raises(TypeError, match='text must be a string, got int'):
        dialogue_from_records([dict(text=3)], 'c')
    with pytest.raises(ConversationTableError, match="conversation 'c' has no utterances"):
        dialogue_from_records([], 'c')


@pytest.mark.parametrize('rows, message', [
    ('d1,1,Ann,a,joy\nd1,01,Bob,b,joy\n', r"t\.csv:3: duplicated .*\('d1', '01'\), first "
     r"seen on line 2 as '1'"),
    ('1,0,Ann,a,joy\n01,1,Bob,b,joy\n', r"t\.csv:3: dialogue id '01' and '1' \(line 2\) "
     'differ only in formatting'),
])
def test_ids_differing_only_in_formatting_are_the_same_id(tmp_path, rows, message):
    path = write(tmp_path, 't.csv', HEADER + rows)
    with pytest.raises(ConversationTableError, match=message):
        read_conversation_table(str(path))


def test_utf16_table_is_read_with_its_bom_and_named_without(tmp_path):
    text = HEADER + 'd1,0,Zoë,hello,joy\n'
    path = write(tmp_path, 'u16.csv', codecs.BOM_UTF16_LE + text.encode('utf-16-le'),
                 binary=True)
    utts, _, _ = read_conversation_table(str(path))
    assert utts[0].speaker == 'Zoë' and utts[0].text == 'hello'
    path = write(tmp_path, 'nobom.csv', text.encode('utf-16-le'), binary=True)
    with pytest.raises(ConversationTableError, match=r'nobom\.csv: line 1: NUL byte.*UTF-16'):
        read_conversation_table(str(path))


def test_oversized_csv_field_names_file_and_line(tmp_path):
    big = 'x' * (csv.field_size_limit() + 10)
    path = write(tmp_path, 'big.csv', HEADER + 'd1,0,Ann,hi,joy\nd1,1,Bob,"' + big + '",joy\n')
    with pytest.raises(ConversationTableError, match=r'big\.csv: line 3: not readable as CSV'):
        read_conversation_table(str(path))


def test_speaker_indices_are_stable_under_case_and_stray_names():
    train = ['Ross'] * 5 + ['rachel'] * 3 + ['Rachel'] * 4 + ['Joey'] * 2
    mapping, names = build_speaker_map(train, train, max_speakers=9)
    assert names == ['Rachel', 'Ross', 'Joey'] and mapping['rachel'] == mapping['Rachel'] == 0
    # a stray name in the test split takes the shared 'other' index, renumbering nobody
    mapping2, names2 = build_speaker_map(train, train + ['Gunther'], max_speakers=9)
    assert names2 == names + ['other'] and mapping2['Gunther'] == 3
    assert all(mapping2[n] == mapping[n] for n in mapping)
    # a stray training name goes last
    mapping3, names3 = build_speaker_map(train + ['Janice'], train + ['Janice'])
    assert names3[:3] == names and mapping3['Janice'] == 3
    # lowercase m/f are IEMOCAP's M/F
    mapping4, names4 = build_speaker_map(['f', 'F', 'm'], ['f', 'F', 'm', 'M'])
    assert names4 == ['M', 'F'] and mapping4 == {'f': 1, 'F': 1, 'm': 0, 'M': 0}


def test_lowercase_m_f_speakers_of_a_table_are_m_and_f(tmp_path):
    path = write(tmp_path, 't.csv', HEADER + ''.join(
        f'd{d},{u},{"MF"[u % 2].lower()},hi,joy\n' for d in range(4) for u in range(2)))
    conv = load_tables([TableSpec(str(path))], classes='meld', **QUIET)
    assert conv.speaker_names == ['M', 'F']
    d0 = conv.dialogues[0]
    assert conv.speakers(d0).tolist() == [0, 1]


def test_a_lone_surrogate_in_a_jsonl_text_is_refused_naming_the_row(tmp_path):
    from vega_mm.conversations import ConversationTableError, read_conversation_table
    path = tmp_path / 't.jsonl'
    path.write_text('{"dialogue_id": "0", "utterance_id": "0", "speaker": "A", "text": "hi"}\n'
                    '{"dialogue_id": "0", "utterance_id": "1", "speaker": "A", '
                    '"text": "bad \\ud800"}\n', encoding='utf-8')
    with pytest.raises(ConversationTableError, match=r't\.jsonl:2: .*lone surrogate'):
        read_conversation_table(str(path))


def test_table_without_speaker_column_warns_once_with_a_close_match(tmp_path):
    path = tmp_path / 'spk.csv'
    path.write_text('dialogue_id,utterance_id,Speakr,text\nd1,0,Ann,hi\nd1,1,Bob,yo\n'
                    'd2,0,Ann,ok\n', encoding='utf-8')
    with pytest.warns(UserWarning) as record:
        utts = read_conversation_table(str(path))[0]
    msgs = [str(w.message) for w in record if 'speaker column' in str(w.message)]
    assert len(msgs) == 1
    assert 'spk.csv' in msgs[0] and "'Speakr'" in msgs[0] and 'did you mean' in msgs[0]
    assert all(u.speaker == 'unknown' for u in utts)
    # nothing close: the warning lists the columns and suggests nothing
    path.write_text('dialogue_id,utterance_id,text\nd1,0,hi\n', encoding='utf-8')
    with pytest.warns(UserWarning, match=r"the columns are \['dialogue_id', 'utterance_id', "
                      r"'text'\]") as record:
        read_conversation_table(str(path))
    assert not any('did you mean' in str(w.message) for w in record)


def test_table_with_speaker_column_does_not_warn(tmp_path, recwarn):
    path = tmp_path / 'ok.csv'
    path.write_text('dialogue_id,utterance_id,speaker,text\nd1,0,Ann,hi\n', encoding='utf-8')
    read_conversation_table(str(path))
    assert not [w for w in recwarn if 'speaker column' in str(w.message)]


def test_configured_speaker_column_that_is_absent_is_an_error(tmp_path):
    path = tmp_path / 'cfg.csv'
    path.write_text('dialogue_id,utterance_id,Speakr,text\nd1,0,Ann,hi\n', encoding='utf-8')
    with pytest.raises(ConversationTableError, match=r"cfg\.csv: column 'Speaker' \(given "
                       r"for 'speaker'\) is not in the header \['dialogue_id', 'utterance_id', "
                       r"'Speakr', 'text'\]"):
        read_conversation_table(str(path), columns={'speaker': 'Speaker'})


@pytest.mark.parametrize('content,detail', [('', '; expected one JSON object'),
                                            ('\n  \n', ' (only blank lines)')])
def test_an_empty_jsonl_table_says_the_file_is_empty(tmp_path, content, detail):
    """Issue 35: not "no dialogue id column in the header []"."""
    path = tmp_path / 'empty.jsonl'
    path.write_text(content)
    with pytest.raises(ConversationTableError, match=f'empty.jsonl: the file is empty'
                       f'{detail.replace("(", "[(]").replace(")", "[)]")}'):
        read_conversation_table(str(path), fmt='jsonl')
    with pytest.raises(ConversationTableError, match='the file is empty'):
        read_conversation_table(str(path))  # the format told by the suffix

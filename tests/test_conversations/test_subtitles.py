"""Subtitle transcripts (.srt/.vtt): cues, times, speakers, markup, errors; one-conversation
tables; cue times against the recording."""
import codecs
import json

import pytest

from vega_mm.conversations import (SRT, VTT, ConversationTableError, check_cue_times,
                                   load_dialogues, load_transcript, overlapping_cues,
                                   read_subtitles)
from vega_mm.datasets.formats import TABLE, detect_format

SRT_TEXT = """1
00:00:01,000 --> 00:00:02,500
ROSS: We were on a break!

2
00:00:02,100 --> 00:00:04,000
<i>Rachel Green:</i> No, we were not.
{\\an8}Never &amp; ever.

3
00:00:05,000 --> 00:00:06,250 X1:10 X2:20
Note: this is what a narrator says.

4
01:40:00,000 --> 101:00:00,5
- [SPEAKER_01]: long one
"""

VTT_TEXT = """WEBVTT - a header

NOTE a comment
spanning lines

STYLE
::cue { color: yellow }

intro
00:01.000 --> 00:02.000 align:start
<v.loud Ross>Hi <b>&lt;there&gt;</b></v>

00:00:03.000 --> 00:00:04.000
<c.blue>unlabelled</c> <00:00:03.500>words
"""


def write(tmp_path, name, text, encoding='utf-8'):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return str(path)


def test_srt_cues_speakers_markup_and_times(tmp_path):
    path = write(tmp_path, 'ep1.srt', SRT_TEXT)
    assert detect_format(path) is SRT and SRT.kind == TABLE
    [dia] = load_dialogues(path)
    assert dia.dialogue_id == 'ep1' and dia.split == 'test'
    utts = dia.utterances
    assert [u.utterance_id for u in utts] == ['1', '2', '3', '4']
    assert [u.speaker for u in utts] == ['ROSS', 'Rachel Green', 'unknown', 'SPEAKER_01']
    assert [u.text for u in utts] == ['We were on a break!', 'No, we were not. Never & ever.',
                                      'Note: this is what a narrator says.', 'long one']
    assert [(u.start, u.end) for u in utts] == [(1.0, 2.5), (2.1, 4.0), (5.0, 6.25),
                                                (6000.0, 363600.5)]
    assert utts[1].source == f'{path}: cue 2 (line 6)'
    assert all(u.media is None for u in utts)


def test_vtt_voice_tags_notes_and_identifiers(tmp_path):
    path = write(tmp_path, 'talk.vtt', '\ufeff' + VTT_TEXT)  # with a byte-order mark
    assert detect_format(path) is VTT
    utts, _, fmt = read_subtitles(path, media='rec.wav', default_speaker='speaker')
    assert fmt == 'vtt'
    assert [(u.speaker, u.text) for u in utts] == [('Ross', 'Hi <there>'),
                                                   ('speaker', 'unlabelled words')]
    assert [(u.start, u.end) for u in utts] == [(1.0, 2.0), (3.0, 4.0)]
    assert {u.media for u in utts} == {'rec.wav'}


def test_speaker_prefix_rule_and_switch(tmp_path):
    cues = ['Mr. Geller: hi', 'one two three four: no', 'lower: no', 'Speaker 2: yes',
            'http://x.org: no', 'Warning: prose', 'JOEY:\nHow you doin?', 'Émile Zola: oui',
            'Dr. van Helsing: no', '3 men: no']
    text = '\n\n'.join(f'{i + 1}\n00:00:{i:02d},000 --> 00:00:{i:02d},900\n{c}'
                       for i, c in enumerate(cues))
    path = write(tmp_path, 'rule.srt', text)
    utts = read_subtitles(path)[0]
    assert [u.speaker for u in utts] == ['Mr. Geller', 'unknown', 'unknown', 'Speaker 2',
                                         'unknown', 'unknown', 'JOEY', 'Émile Zola',
                                         'unknown', 'unknown']
    assert utts[6].text == 'How you doin?' and utts[5].text == 'Warning: prose'
    off = read_subtitles(path, speaker_prefix=False, default_speaker='me')[0]
    assert {u.speaker for u in off} == {'me'} and off[0].text == 'Mr. Geller: hi'


def test_utf16_with_bom_and_srt_without_blank_lines(tmp_path):
    text = '1\n00:00:01,000 --> 00:00:02,000\nA: one\n2\n00:00:02,000 --> 00:00:03,000\ntwo\n'
    path = write(tmp_path, 'u16.srt', codecs.BOM_UTF16_LE + text.encode('utf-16-le'))
    utts = read_subtitles(path)[0]
    assert [(u.speaker, u.text) for u in utts] == [('A', 'one'), ('unknown', 'two')]


@pytest.mark.parametrize('name,text,message', [
    ('e.srt', '', 'empty transcript'),
    ('e.srt', '\n\n  \n', 'empty transcript'),
    ('v.vtt', 'WEBVTT\n', 'empty transcript'),
    ('v.vtt', 'intro\n00:01.000 --> 00:02.000\nhi\n', 'line 1: a WebVTT file starts with'),
    ('t.srt', '1\n00:00:01,000 -> 00:00:02,000\nhi\n', 'line 1: expected a cue number'),
    ('t.srt', '1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:61,000 --> 00:01:02,000\nx\n',
     r'cue 2 \(line 6\): timestamp .00:00:61,000. is not'),
    ('t.srt', '1\n00:00:03,000 --> 00:00:02,000\nhi\n',
     r'cue 1 \(line 2\): the cue ends at 00:00:02.000, not after its start at 00:00:03.000'),
    ('t.srt', '1\n00:00:01,000 --> 00:00:02,000\n\n', r'cue 1 \(line 2\): the cue has no text'),
    ('t.srt', '1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n', 'cue has no text'),
    ('t.srt', '1\n00:00:01,000 --> 00:00:02,000\nROSS:\n', 'only a speaker label'),
    ('t.srt', '1\n00:00:01,000 --> 00:00:02,000\nhello\nstray line\n\njunk\n',
     r'line 6: expected a cue number .*cue 2'),
])
def test_errors_name_file_cue_and_expectation(tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    with pytest.raises(ConversationTableError, match=message) as info:
        load_dialogues(path)
    assert path in str(info.value)


def test_non_utf8_is_refused_with_its_line(tmp_path):
    path = write(tmp_path, 'c.srt', b'1\n00:00:01,000 --> 00:00:02,000\ncaf\xe9\n')
    with pytest.raises(ConversationTableError, match=r'c.srt: line 3: byte 0xe9 .* not UTF-8'):
        read_subtitles(path)


def test_timed_one_conversation_tables(tmp_path):
    rows = [dict(speaker='A', text='hello', start=0.5, end='00:00:01,250'),
            dict(speaker='', text='reply', start=1.5, end=2.0)]
    jsonl = write(tmp_path, 'rec.jsonl', ''.join(json.dumps(r) + '\n' for r in rows))
    csv = write(tmp_path, 'rec.csv', 'speaker,text,start,end\nA,hello,0.5,00:00:01,250\n'
                ',reply,1.5,2.0\n'.replace('00:00:01,250', '"00:00:01,250"'))
    for path in (jsonl, csv):
        dia = load_transcript(path, media='/r/rec.wav', default_speaker='spk')
        assert dia.dialogue_id == 'rec'
        assert [(u.utterance_id, u.speaker, u.text, u.start, u.end, u.media)
                for u in dia.utterances] == [('0', 'A', 'hello', 0.5, 1.25, '/r/rec.wav'),
                                             ('1', 'spk', 'reply', 1.5, 2.0, '/r/rec.wav')]
    # a plain table read still needs the id columns, and says how to do without them
    with pytest.raises(ConversationTableError, match='dialogue_id= is given'):
        load_dialogues(csv)


def test_a_table_of_several_dialogues_is_not_one_transcript(tmp_path):
    path = write(tmp_path, 'two.csv', 'dialogue_id,utterance_id,speaker,text\na,0,A,x\nb,0,B,y\n')
    with pytest.raises(ConversationTableError, match="holds 2 dialogues"):
        load_transcript(path)


def test_cue_times_against_the_recording(tmp_path):
    dia = load_transcript(write(tmp_path, 'ep1.srt', SRT_TEXT))
    dia.utterances = dia.utterances[:3]
    check_cue_times(dia, 6.0, 'rec.wav')  # cue 3 ends 0.25 s late: within the tolerance
    with pytest.raises(ConversationTableError,
                       match=r'cue 3 \(line 11\): the cue ends at 00:00:06.250, more than '
                             r'0.5 s after rec.wav ends at 00:00:05.700'):
        check_cue_times(dia, 5.7, 'rec.wav')
    with pytest.raises(ConversationTableError,
                       match=r'cue 3 .*starts at 00:00:05.000, but rec.wav ends at 00:00:04.900'):
        check_cue_times(dia, 4.9, 'rec.wav', tolerance=10)
    dia.utterances[0].start = None
    with pytest.raises(ConversationTableError, match="utterance '1' has no start/end"):
        check_cue_times(dia, 60, 'rec.wav')


def test_overlapping_cues_are_kept_and_reported(tmp_path):
    dia = load_transcript(write(tmp_path, 'ep1.srt', SRT_TEXT))
    assert len(dia) == 4
    assert overlapping_cues(dia) == [
        'cues 1 and 2 overlap by 0.40 s (00:00:02.100 to 00:00:02.500)']
    assert overlapping_cues(dia, min_overlap=0.5) == []

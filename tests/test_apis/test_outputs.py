"""Prediction files parse back to what the inferencer returned."""
import csv
import json

import pytest

from vega_mm.apis import ConversationInferencer
from vega_mm.apis.outputs import flatten_prediction, write_predictions


@pytest.fixture(scope='module')
def predictions(text_model):
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    return inferencer([dict(speaker='Ross', text='we were on a break, "ok"?'),
                       dict(speaker='Rachel', text='no, we were not')]), inferencer.classes


def test_jsonl_and_json_round_trip(predictions, tmp_path):
    preds, classes = predictions
    write_predictions(preds, str(tmp_path / 'p.jsonl'))
    lines = (tmp_path / 'p.jsonl').read_text(encoding='utf-8').splitlines()
    assert [json.loads(line) for line in lines] == preds
    write_predictions(preds, str(tmp_path / 'p.json'), classes=classes, info=dict(config='c'))
    data = json.loads((tmp_path / 'p.json').read_text(encoding='utf-8'))
    assert data['predictions'] == preds and data['classes'] == classes
    assert data['config'] == 'c'


def test_csv_round_trip(predictions, tmp_path):
    preds, classes = predictions
    write_predictions(preds, str(tmp_path / 'p.csv'))
    with open(tmp_path / 'p.csv', encoding='utf-8', newline='') as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(preds)
    for row, pred in zip(rows, preds):
        flat = flatten_prediction(pred)
        assert set(row) == set(flat)
        assert row['text'] == pred['text'] and row['pred_class'] == pred['pred_class']
        for c in classes:
            assert float(row[f'prob_{c}']) == pytest.approx(pred['pred_scores'][c])
            assert float(row[f'anchor_cos_{c}']) == pytest.approx(
                pred['anchor_similarity'][c])
        assert row['pred_anchor_fused'] == pred['branch_predictions']['anchor_fused']


def test_unknown_suffix_or_directory_refused(tmp_path):
    with pytest.raises(ValueError, match='must end with'):
        write_predictions([], str(tmp_path / 'p.txt'))
    with pytest.raises(ValueError, match='is a directory'):
        (tmp_path / 'd.csv').mkdir()
        write_predictions([], str(tmp_path / 'd.csv'))


# ------------------------------------------------------------------ subtitles of a recording
TIMED = [dict(speaker='Ross', text='We were on a break!', start=0.0, end=1.2346),
         dict(speaker='Rachel Green', text='No & <never> "we" were not', start=1.5, end=3.0),
         dict(speaker='unknown', text='Note: overlapping talk', start=2.75, end=4.5),
         dict(speaker='SPEAKER_00', text='much later', start=360001.25, end=360003.5)]


@pytest.fixture(scope='module')
def timed_predictions(text_model):
    cfg, ckpt = text_model
    return ConversationInferencer(cfg, ckpt)(TIMED)


def test_records_carry_the_utterance_times_after_the_text(timed_predictions, predictions):
    for record, given in zip(timed_predictions, TIMED):
        keys = list(record)
        assert keys[keys.index('text') + 1:keys.index('text') + 3] == ['start', 'end']
        assert (record['start'], record['end']) == (given['start'], given['end'])
        assert isinstance(record['start'], float)
    assert not {'start', 'end'} & set(predictions[0][0])  # no times in, none out


def test_a_subtitle_file_is_an_input(text_model, timed_predictions, tmp_path):
    cfg, ckpt = text_model
    path = tmp_path / 'rec.srt'
    write_predictions(timed_predictions, str(path))
    again = ConversationInferencer(cfg, ckpt)(str(path))
    assert [(r['dialogue_id'], r['utterance_id']) for r in again] == [
        ('rec', str(k)) for k in range(1, len(TIMED) + 1)]
    assert [{k: r[k] for k in ('speaker', 'text', 'start', 'end')} for r in again] == [
        dict(t, end=round(t['end'], 3)) for t in TIMED]


@pytest.mark.parametrize('suffix', ['.srt', '.vtt'])
def test_subtitles_read_back_as_the_transcript(timed_predictions, tmp_path, suffix):
    from vega_mm.conversations import read_subtitles
    path = str(tmp_path / f'out{suffix}')
    write_predictions(timed_predictions, path)
    text = open(path, encoding='utf-8').read()
    first = timed_predictions[0]
    tag = f'[{first["pred_class"]} {first["pred_scores"][first["pred_class"]]:.2f}]'
    if suffix == '.srt':
        assert text.startswith(f'1\n00:00:00,000 --> 00:00:01,235\nRoss: We were on a break!\n'
                               f'{tag}\n\n2\n')
        assert '100:00:01,250 --> 100:00:03,500' in text and '[unknown]: Note:' in text
    else:
        assert text.startswith(f'WEBVTT\n\n00:00:00.000 --> 00:00:01.235\n'
                               f'<v Ross>We were on a break!</v>\n{tag}\n\n')
        assert '&amp; &lt;never&gt;' in text
    utts = read_subtitles(path)[0]
    assert [(u.speaker, u.text) for u in utts] == [(r['speaker'], r['text']) for r in TIMED]
    assert [(u.start, u.end) for u in utts] == [(round(r['start'], 3), round(r['end'], 3))
                                               for r in TIMED]


def test_subtitles_need_times_and_one_conversation(predictions, timed_predictions, tmp_path):
    preds, _ = predictions
    out = tmp_path / 'p.srt'
    out.write_text('old')
    with pytest.raises(ValueError, match=r"--out '.*p\.srt': a subtitle file needs utterance "
                       r"times, but the input has none \(record 0: dialogue"):
        write_predictions(preds, str(out), what='--out')
    two = timed_predictions + [dict(r, dialogue_id='other') for r in timed_predictions]
    with pytest.raises(ValueError, match='predictions hold 2 dialogues'):
        write_predictions(two, str(tmp_path / 'p.vtt'))
    assert out.read_text() == 'old' and not (tmp_path / 'p.vtt').exists()

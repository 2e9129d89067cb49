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
        assert row['text'] == pred['text'] and row['pred_label'] == pred['pred_label']
        for c in classes:
            assert float(row[f'prob_{c}']) == pytest.approx(pred['probabilities'][c])
            assert float(row[f'anchor_cos_{c}']) == pytest.approx(
                pred['anchor_similarity'][c])
        assert row['pred_anchor_fused'] == pred['branch_predictions']['anchor_fused']


def test_unknown_suffix_or_directory_refused(tmp_path):
    with pytest.raises(ValueError, match='must end with'):
        write_predictions([], str(tmp_path / 'p.txt'))
    with pytest.raises(ValueError, match='is a directory'):
        (tmp_path / 'd.csv').mkdir()
        write_predictions([], str(tmp_path / 'd.csv'))

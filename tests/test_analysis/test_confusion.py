"""Confusion matrices: counts, normalisation, agreement with ERCMetric, files."""
import csv
import json

import numpy as np
import pytest
import torch

from vega_mm.analysis import (confusion_counts, confusion_summary, labels_from_predictions,
                              metric_mismatches, read_predictions_file, row_normalise,
                              write_confusion_outputs)
from vega_mm.evaluation import ERCMetric
from vega_mm.structures import ConversationDataSample

CLASSES = ['a', 'b', 'c']


def test_counts_rows_are_true_classes_and_unlabelled_are_left_out():
    y_true = np.array([0, 0, 1, 2, -1, 2])
    y_pred = np.array([0, 1, 1, 0, 2, 2])
    counts = confusion_counts(y_true, y_pred, 3)
    assert counts.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    norm = row_normalise(np.array([[1, 3], [0, 0]]))
    assert norm.tolist() == [[0.25, 0.75], [0.0, 0.0]]


def _metric(y_true, y_pred):
    metric = ERCMetric(classes=CLASSES, branch_metrics=False)
    sample = ConversationDataSample()
    sample.set_gt_label(torch.as_tensor(y_true))
    sample.set_pred_label(torch.as_tensor(y_pred))
    metric.process(None, [sample.to_dict()])  # as MMEngine's evaluator passes it
    return metric.evaluate(1)


def test_summary_agrees_with_the_metric_and_a_wrong_metric_is_caught():
    rng = np.random.default_rng(0)
    y_true = rng.integers(-1, 3, 200)
    y_pred = rng.integers(0, 3, 200)
    metrics = _metric(y_true, y_pred)
    summary = confusion_summary(y_true, y_pred, CLASSES)
    assert metric_mismatches(summary, metrics) == []
    assert summary['accuracy'] == pytest.approx(metrics['erc/accuracy'])
    assert summary['num_utterances'] == int((y_true >= 0).sum())
    wrong = dict(metrics, **{'erc/f1_b': metrics['erc/f1_b'] + 0.5})
    assert [p.split(':')[0] for p in metric_mismatches(summary, wrong)] == ['erc/f1_b']


def _records(dialogue_id, gold, pred):
    return [dict(dialogue_id=dialogue_id, utterance_id=str(i), pred_label=p,
                 pred_class=CLASSES[p], pred_score=0.5,
                 **(dict(gt_label=g, gt_class=CLASSES[g]) if g >= 0 else {}),
                 pred_scores={c: 0.5 if k == p else 0.25 for k, c in enumerate(CLASSES)},
                 branch_predictions=dict(text=CLASSES[(p + 1) % 3]))
            for i, (g, p) in enumerate(zip(gold, pred))]


def test_labels_come_from_records_and_from_the_earlier_per_dialogue_layout():
    """tools/test.py --out wrote one entry per dialogue with lists before the one
    record; both layouts give the same labels."""
    records = _records('d1', [0, -1, 2], [1, 1, 2]) + _records('d2', [1], [0])
    y_true, y_pred = labels_from_predictions(records, CLASSES)
    assert y_true.tolist() == [0, -1, 2, 1] and y_pred.tolist() == [1, 1, 2, 0]
    _, y_text = labels_from_predictions(records, CLASSES, branch='text')
    assert y_text.tolist() == [2, 2, 0, 1]
    old = [dict(dialogue_id='d1', utterance_ids=['0', '1', '2'], gt_label=[0, -1, 2],
                pred_label=[1, 1, 2], pred_score=[[.25, .5, .25]] * 2 + [[.25, .25, .5]],
                branch_pred_labels=dict(text=[2, 2, 0]), pred_class=['b', 'b', 'c']),
           dict(dialogue_id='d2', gt_label=[1], pred_label=[0], pred_score=[[.5, .25, .25]],
                branch_pred_labels=dict(text=[1]), pred_class=['a'])]
    assert [a.tolist() for a in labels_from_predictions(old, CLASSES)] == [
        y_true.tolist(), y_pred.tolist()]
    assert labels_from_predictions(old, CLASSES, branch='text')[1].tolist() == y_text.tolist()


def test_predictions_errors_name_the_source_and_dialogue(tmp_path):
    with pytest.raises(ValueError, match="preds.json: entry 0 \\(dialogue 'd1'\\): not a "
                       'prediction record'):
        labels_from_predictions([dict(dialogue_id='d1', label=[0])], CLASSES, 'preds.json')
    with pytest.raises(ValueError, match="'gt_label' has 2 items but pred_label has 1"):
        labels_from_predictions([dict(dialogue_id='d2', gt_label=[0, 1], pred_label=[0],
                                      pred_score=[[1, 0, 0]])], CLASSES)
    with pytest.raises(ValueError, match='needs the class names'):
        labels_from_predictions([dict(dialogue_id='d2', gt_label=[0], pred_label=[0],
                                      pred_score=[[1, 0, 0]])], None)
    with pytest.raises(ValueError, match='no utterance has a gold label'):
        labels_from_predictions(_records('d3', [-1], [0]), CLASSES)
    bad = tmp_path / 'bad.json'
    bad.write_text(json.dumps({'classes': CLASSES}))
    with pytest.raises(ValueError, match='bad.json: key "predictions"'):
        read_predictions_file(str(bad))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        read_predictions_file(str(tmp_path / 'missing.json'))


def test_outputs_are_written_and_parse_back(tmp_path):
    y_true = np.array([0, 1, 2, 2, 1])
    y_pred = np.array([0, 2, 2, 2, 1])
    summary = confusion_summary(y_true, y_pred, CLASSES)
    paths = write_confusion_outputs(summary, str(tmp_path / 'out'), 'test')
    assert open(paths['png'], 'rb').read(8) == b'\x89PNG\r\n\x1a\n'
    assert json.load(open(paths['json']))['counts'] == summary['counts']
    rows = list(csv.reader(open(paths['csv'])))
    assert rows[0][1:] == CLASSES
    assert [int(v) for v in rows[2][1:]] == [0, 1, 1]  # true 'b'

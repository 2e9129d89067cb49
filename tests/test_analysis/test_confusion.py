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


def test_predictions_errors_name_the_source_and_dialogue(tmp_path):
    with pytest.raises(ValueError, match="preds.json: dialogue 'd1' has no"):
        labels_from_predictions([dict(dialogue_id='d1', pred_label=[0])], 'preds.json')
    with pytest.raises(ValueError, match="'d2' has 2 labels but 1 predictions"):
        labels_from_predictions([dict(dialogue_id='d2', gt_label=[0, 1], pred_label=[0])])
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

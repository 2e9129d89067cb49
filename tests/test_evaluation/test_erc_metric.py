import numpy as np
import pytest
import torch
from sklearn.metrics import f1_score, precision_score

from vega_mm.evaluation import ERCMetric
from vega_mm.structures import ConversationDataSample

CLASSES = ('a', 'b', 'c')


def _sample(gt, pred, branches=None):
    s = ConversationDataSample()
    s.set_gt_label(torch.tensor(gt))
    s.set_pred_label(torch.tensor(pred))
    if branches:
        s.set_branch_pred_labels({k: torch.tensor(v) for k, v in branches.items()})
    return s.to_dict()  # what MMEngine's evaluator passes to a metric


def _evaluate(samples, **kw):
    metric = ERCMetric(**kw)
    metric.dataset_meta = dict(classes=CLASSES)
    metric.process({}, samples)
    return metric.evaluate(len(samples))


def test_accuracy_is_accuracy_not_weighted_precision():
    gt = [0, 0, 0, 0, 1, 1, 2, 2]
    pred = [0, 0, 0, 1, 1, 0, 0, 2]
    res = _evaluate([_sample(gt[:5], pred[:5]), _sample(gt[5:], pred[5:])])
    assert res['erc/accuracy'] == pytest.approx(100 * 5 / 8)
    wp = 100 * precision_score(gt, pred, average='weighted')
    assert abs(res['erc/accuracy'] - wp) > 1  # the published code reported this instead
    assert res['erc/weighted_f1'] == pytest.approx(100 * f1_score(gt, pred, average='weighted'))
    assert res['erc/macro_f1'] == pytest.approx(100 * f1_score(gt, pred, average='macro'))
    per_class = f1_score(gt, pred, average=None)
    for name, value in zip(CLASSES, per_class):
        assert res[f'erc/f1_{name}'] == pytest.approx(100 * value)


def test_unlabelled_utterances_are_ignored():
    full = _evaluate([_sample([0, 1, 2], [0, 1, 1])])
    with_unlabelled = _evaluate([_sample([0, -1, 1, 2, -1], [0, 2, 1, 1, 0])])
    assert full == with_unlabelled


def test_branch_weighted_f1():
    gt = [0, 1, 2, 2]
    res = _evaluate([_sample(gt, [0, 1, 2, 2], branches=dict(
        fused=[0, 1, 2, 2], text=[0, 0, 0, 0], anchor_fused=[0, 1, 2, 1]))])
    assert res['erc/weighted_f1_fused'] == pytest.approx(100.0)
    assert res['erc/weighted_f1_text'] == pytest.approx(
        100 * f1_score(gt, [0, 0, 0, 0], average='weighted', zero_division=0))
    assert res['erc/weighted_f1_anchor_fused'] < 100
    no_branches = _evaluate([_sample(gt, gt, branches=dict(fused=gt))], branch_metrics=False)
    assert not any('weighted_f1_' in k for k in no_branches)


def test_classes_required():
    metric = ERCMetric()
    metric.process({}, [_sample([0], [0])])
    with pytest.raises(ValueError, match='needs class names'):
        metric.evaluate(1)

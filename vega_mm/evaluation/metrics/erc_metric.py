"""Metrics for emotion recognition in conversation."""
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from sklearn.metrics import accuracy_score, f1_score

from vega_mm.registry import METRICS
from vega_mm.structures.meta import HEADLINE_METRICS, METRIC_PREFIX


def erc_scores(y_true: np.ndarray, y_pred: np.ndarray,
               num_classes: int) -> Dict[str, object]:
    """Accuracy, weighted F1, macro F1 and per-class F1 (all in %) of flat labels.

    Unlabelled utterances (``y_true < 0``) are left out.  Macro F1 averages over the
    classes present in ``y_true`` or ``y_pred`` (scikit-learn's convention with
    ``labels=None``) so that a class absent from a small split does not count as 0.
    """
    keep = y_true >= 0
    y_true, y_pred = y_true[keep], y_pred[keep]
    labels = list(range(num_classes))
    if y_true.size == 0:
        raise ValueError('no labelled utterances to evaluate')
    per_class = f1_score(y_true, y_pred, labels=labels, average=None, zero_division=0)
    return dict(
        accuracy=100.0 * accuracy_score(y_true, y_pred),
        weighted_f1=100.0 * f1_score(y_true, y_pred, average='weighted', zero_division=0),
        macro_f1=100.0 * f1_score(y_true, y_pred, average='macro', zero_division=0),
        per_class_f1=100.0 * per_class,
        num_utterances=int(y_true.size))


@METRICS.register_module()
class ERCMetric(BaseMetric):
    """Utterance-level accuracy, weighted / macro / per-class F1 and per-branch F1.

    Reads ``gt_label``, ``pred_label`` and ``branch_pred_labels`` from the
    :class:`ConversationDataSample` outputs; utterances labelled ``-1`` are ignored.
    Results (in %): ``accuracy``, ``weighted_f1``, ``macro_f1``, ``f1_<class>`` for each
    class and ``weighted_f1_<branch>`` for each branch (``fused``, ``text``, ... in label
    space, ``anchor_fused``, ... in anchor space).

    Args:
        classes: class names; by default the dataset's ``classes``.
        branch_metrics: also report the weighted F1 of every branch.
        collect_device, prefix: as in ``BaseMetric`` (default prefix ``erc``).
    """

    default_prefix = METRIC_PREFIX

    def __init__(self, classes: Optional[Sequence[str]] = None, branch_metrics: bool = True,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self._classes = None if classes is None else list(classes)
        self.branch_metrics = branch_metrics

    @property
    def classes(self) -> List[str]:
        if self._classes is not None:
            return self._classes
        meta = self.dataset_meta or {}
        if 'classes' not in meta:
            raise ValueError('ERCMetric needs class names: set classes= or use a dataset '
                             'whose metainfo has "classes"')
        return list(meta['classes'])

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keep each dialogue's labels and predictions (``data_samples``: the predicted
        samples as dicts, as MMEngine's evaluator passes them)."""
        for sample in data_samples:
            result = dict(gt=np.asarray(sample['gt_label'].cpu()),
                          pred=np.asarray(sample['pred_label'].cpu()))
            branches = sample.get('branch_pred_labels')
            if self.branch_metrics and branches:
                result['branches'] = {k: np.asarray(v.cpu()) for k, v in branches.items()}
            self.results.append(result)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        classes = self.classes
        y_true = np.concatenate([r['gt'] for r in results])
        y_pred = np.concatenate([r['pred'] for r in results])
        scores = erc_scores(y_true, y_pred, len(classes))
        metrics = {k: scores[k] for k in HEADLINE_METRICS}
        for name, value in zip(classes, scores['per_class_f1']):
            metrics[f'f1_{name}'] = float(value)
        if self.branch_metrics and results and 'branches' in results[0]:
            keep = y_true >= 0
            for branch in results[0]['branches']:
                pred = np.concatenate([r['branches'][branch] for r in results])
                metrics[f'weighted_f1_{branch}'] = 100.0 * f1_score(
                    y_true[keep], pred[keep], average='weighted', zero_division=0)
        MMLogger.get_current_instance().info(
            f'ERCMetric on {scores["num_utterances"]} utterances')
        return {k: float(v) for k, v in metrics.items()}

"""Confusion matrices of utterance-level predictions: numbers, picture and files."""
import csv
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from vega_mm.evaluation.metrics import erc_scores
from vega_mm.structures.meta import metric_name
from vega_mm.structures.records import upgrade_records
from .figures import new_figure, save_figure

__all__ = ['confusion_counts', 'row_normalise', 'labels_from_predictions',
           'write_prediction_pictures',
           'read_predictions_file', 'plot_confusion_matrix', 'confusion_summary',
           'metric_mismatches', 'write_confusion_outputs']


def confusion_counts(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts [C, C]: row = true class, column = predicted class.

    Unlabelled utterances (``y_true < 0``) are left out, as in
    :func:`~vega_mm.evaluation.metrics.erc_scores`.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    keep = y_true >= 0
    return sk_confusion_matrix(y_true[keep], y_pred[keep], labels=list(range(num_classes)))


def row_normalise(counts: np.ndarray) -> np.ndarray:
    """Each row divided by its total (the recall of each true class on the diagonal);
    a class with no utterances gives a row of zeros."""
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape, dtype=float),
                     where=totals > 0)


def labels_from_predictions(predictions: Sequence[dict], classes: Sequence[str] = None,
                            source: str = 'predictions',
                            branch: Optional[str] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Flat true and predicted labels of every utterance of a predictions list.

    Args:
        predictions: prediction records (:mod:`vega_mm.structures.records`, what
            ``tools/test.py --out`` and ``tools/infer.py`` write under
            ``predictions``), or entries of the layouts written before (read with
            :func:`~vega_mm.structures.records.upgrade_records`, which needs ``classes``).
        classes: the class names (the file's ``classes``).
        source: named in errors (e.g. the file).
        branch: the labels of this branch's prediction (``branch_predictions``) instead
            of the model's.

    Returns:
        ``(y_true, y_pred)``, int64 [N] each; ``-1`` in ``y_true`` where an utterance
        is unlabelled or its label is not one of the classes (left out of the counts).

    Raises:
        ValueError: no predictions, no utterance with a gold label, an entry of no
            known layout, a branch an entry lacks.
    """
    if not predictions:
        raise ValueError(f'{source}: no predictions (expected a list of prediction records)')
    records = upgrade_records(predictions, classes, source)
    names = [str(c) for c in classes] if classes else None
    y_true, y_pred = [], []
    for i, r in enumerate(records):
        y_true.append(int(r.get('gt_label', -1)))
        if branch is None:
            y_pred.append(int(r['pred_label']))
            continue
        name = (r.get('branch_predictions') or {}).get(branch)
        if name is None or names is None or name not in names:
            raise ValueError(f'{source}: record {i} (dialogue {r.get("dialogue_id")!r}) has '
                             f'no {branch!r} branch prediction among the classes')
        y_pred.append(names.index(name))
    if all(t < 0 for t in y_true):
        raise ValueError(f'{source}: no utterance has a gold label ("gt_label"); expected '
                         'the predictions of a labelled split (tools/test.py --out)')
    return np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)


def read_predictions_file(path: str) -> dict:
    """Read a predictions file of ``tools/test.py --out`` or ``tools/infer.py --out
    X.json``: ``classes``, ``predictions`` as records (older layouts converted, see
    :func:`~vega_mm.structures.records.upgrade_records`), and ``metrics`` where given.

    Raises:
        FileNotFoundError / ValueError naming the file and the missing key.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'predictions file {path!r} does not exist')
    try:
        with open(path, encoding='utf-8') as f:
            data = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f'{path}: not a JSON file from tools/test.py --out ({exc})')
    for key in ('classes', 'predictions'):
        if not isinstance(data, dict) or not data.get(key):
            raise ValueError(f'{path}: key "{key}" missing or empty (expected the output '
                             'of tools/test.py --out)')
    data['predictions'] = upgrade_records(data['predictions'], data['classes'], path)
    return data


def confusion_summary(y_true: np.ndarray, y_pred: np.ndarray,
                      classes: Sequence[str]) -> Dict[str, object]:
    """Counts, row-normalised matrix and the metric's own scores of the same labels.

    Returns:
        ``classes``, ``counts`` [C][C], ``normalised`` [C][C], ``support`` [C] and
        ``accuracy``, ``weighted_f1``, ``macro_f1``, ``per_class_f1`` (in %, from
        :func:`erc_scores`, the maths of ``ERCMetric``).
    """
    counts = confusion_counts(y_true, y_pred, len(classes))
    scores = erc_scores(np.asarray(y_true), np.asarray(y_pred), len(classes))
    return dict(classes=list(classes), counts=counts.tolist(),
                normalised=row_normalise(counts).tolist(),
                support=counts.sum(1).tolist(),
                accuracy=float(scores['accuracy']),
                weighted_f1=float(scores['weighted_f1']),
                macro_f1=float(scores['macro_f1']),
                per_class_f1=[float(v) for v in scores['per_class_f1']],
                num_utterances=int(scores['num_utterances']))


def metric_mismatches(summary: Dict[str, object], metrics: Dict[str, float],
                      tol: float = 1e-6) -> List[str]:
    """Where a confusion summary disagrees with an evaluator's metrics.

    Accuracy and per-class F1 are recomputed from the counts alone and compared with
    ``metrics`` (``<prefix>/accuracy``, ``<prefix>/f1_<class>``, as ``ERCMetric``
    reports them); a metric that is absent is not compared.

    Returns:
        One line per disagreement (empty when they agree).
    """
    counts = np.asarray(summary['counts'], dtype=float)
    tp = np.diag(counts)
    denom = counts.sum(0) + counts.sum(1)
    f1 = 100.0 * np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    ours = {'accuracy': 100.0 * tp.sum() / max(1.0, counts.sum())}
    ours.update({f'f1_{c}': v for c, v in zip(summary['classes'], f1)})
    problems = []
    for key, value in metrics.items():
        name = metric_name(key)
        if name in ours and abs(ours[name] - float(value)) > tol:
            problems.append(f'{key}: metric {float(value):.6f}, confusion matrix '
                            f'{ours[name]:.6f}')
    return problems


def _draw_matrix(ax, values: np.ndarray, labels: List[List[str]], classes: Sequence[str],
                 title: str, vmax: float) -> None:
    image = ax.imshow(values, cmap='Blues', vmin=0, vmax=vmax)
    for i in range(values.shape[0]):
        for j in range(values.shape[1]):
            dark = values[i, j] > 0.6 * vmax
            ax.text(j, i, labels[i][j], ha='center', va='center', fontsize=9,
                    color='white' if dark else 'black')
    ticks = np.arange(len(classes))
    ax.set_xticks(ticks, labels=classes, rotation=40, ha='right', rotation_mode='anchor')
    ax.set_yticks(ticks, labels=classes)
    ax.set_xlabel('predicted class')
    ax.set_ylabel('true class')
    ax.set_title(title)
    ax.figure.colorbar(image, ax=ax, shrink=0.8)


def plot_confusion_matrix(counts: np.ndarray, classes: Sequence[str],
                          title: str = 'Confusion matrix',
                          per_class_f1: Sequence[float] = None):
    """Counts and row-normalised (%) side by side, class names on both axes.

    Args:
        counts: [C, C] from :func:`confusion_counts`.
        classes: the C class names, in label order.
        title: the figure's title.
        per_class_f1: optional F1 per class (%), drawn as a third panel.

    Returns:
        A matplotlib ``Figure``.
    """
    counts = np.asarray(counts)
    panels = 3 if per_class_f1 is not None else 2
    side = max(4.0, 0.75 * len(classes) + 2.0)
    fig = new_figure((side * panels, side))
    axes = fig.subplots(1, panels)
    _draw_matrix(axes[0], counts, [[str(v) for v in row] for row in counts], classes,
                 f'counts ({int(counts.sum())} utterances)', max(1, counts.max()))
    norm = 100.0 * row_normalise(counts)
    _draw_matrix(axes[1], norm, [[f'{v:.0f}' for v in row] for row in norm], classes,
                 'row-normalised (% of true class)', 100.0)
    if per_class_f1 is not None:
        ax = axes[2]
        pos = np.arange(len(classes))
        ax.barh(pos, per_class_f1, color='tab:blue')
        for y, v in zip(pos, per_class_f1):
            ax.text(min(v + 1, 88), y, f'{v:.1f}', va='center', fontsize=9)
        ax.set_yticks(pos, labels=classes)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        ax.set_xlabel('F1 (%)')
        ax.set_title('per-class F1')
    fig.suptitle(title)
    return fig


def write_confusion_outputs(summary: Dict[str, object], out_dir: str,
                            title: str = 'Confusion matrix',
                            prefix: str = 'confusion_matrix') -> Dict[str, str]:
    """Write ``{prefix}.png``, ``{prefix}.json`` (the summary) and ``{prefix}.csv``
    (counts, then the row-normalised matrix) into ``out_dir``.

    Returns:
        ``{'png': path, 'json': path, 'csv': path}``.
    """
    os.makedirs(out_dir, exist_ok=True)
    classes = summary['classes']
    paths = {ext: osp.join(out_dir, f'{prefix}.{ext}') for ext in ('png', 'json', 'csv')}
    fig = plot_confusion_matrix(np.asarray(summary['counts']), classes, title,
                                summary.get('per_class_f1'))
    save_figure(fig, paths['png'])
    with open(paths['json'], 'w') as f:
        json.dump(summary, f, indent=1)
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.writer(f)
        for name in ('counts', 'normalised'):
            writer.writerow([f'{name}: true \\ predicted'] + list(classes))
            for cls, row in zip(classes, summary[name]):
                writer.writerow([cls] + [v if name == 'counts' else f'{v:.6f}' for v in row])
    return paths


def write_prediction_pictures(predictions: Sequence[dict], classes: Sequence[str],
                              out_dir: str, title: str) -> List[str]:
    """The pictures of one evaluation: the confusion matrix of the prediction
    (``confusion_matrix.*``) and of each branch the head predicted with
    (``confusion_<branch>.*``), from the prediction records ``tools/test.py`` collects.

    Args:
        predictions: prediction records with ``gt_label``, ``pred_label`` and
            ``branch_predictions`` (``ConversationPredictionCollector``'s).
        classes: the class names.
        out_dir: the folder to write into (made if missing).
        title: the pictures' title; a branch's picture adds its name.

    Returns:
        The PNG files written.
    """
    y_true, y_pred = labels_from_predictions(predictions, classes)
    written = [write_confusion_outputs(confusion_summary(y_true, y_pred, classes), out_dir,
                                       title)['png']]
    records = upgrade_records(predictions, classes)
    for branch in records[0].get('branch_predictions') or {}:
        _, y_branch = labels_from_predictions(records, classes, branch=branch)
        summary = confusion_summary(y_true, y_branch, classes)
        written.append(write_confusion_outputs(summary, out_dir, f'{title}, {branch} branch',
                                               prefix=f'confusion_{branch}')['png'])
    return written

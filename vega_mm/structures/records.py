"""The prediction record: one dict per utterance, the same everywhere.

``tools/infer.py`` (JSON lines, ``.json``, ``.csv``, subtitles), ``tools/test.py --out``,
:class:`~vega_mm.apis.ConversationInferencer`, the live mode and the analysis tools
(:mod:`vega_mm.analysis`) all write or read the records that
:func:`prediction_records` builds from a predicted data sample. The names follow
mmpretrain's inferencers (``pred_label``, ``pred_class``, ``pred_score``,
``pred_scores``); the conversation's fields come first.

======================= ========== ====================================================
key                     type       meaning
======================= ========== ====================================================
``dialogue_id``         str        the conversation (an image classifier's record has
                                   ``img_path`` instead of the conversation's keys)
``utterance_id``        str        the utterance inside it
``speaker``             str / int  its speaker (``None`` where the input names none)
``text``                str        its transcript (``None`` where the input has none)
``start``, ``end``      float      seconds in the recording (only where known)
``pred_label``          int        index of the predicted class
``pred_class``          str        the predicted class
``pred_score``          float      probability of the predicted class
``gt_label``            int        index of the gold class (only where labelled; ``-1``
                                   when the input's label is not one of the classes)
``gt_class``            str        the gold class as the input writes it (only where
                                   labelled)
``pred_scores``         dict       every class: its probability ``{class: p}``
``anchor_similarity``   dict       ``{class: cosine}`` to each class's anchor, fused
                                   anchor branch (VEGA models only)
``branch_predictions``  dict       ``{branch: class}``: every branch's prediction
                                   (``anchor_`` prefix: anchor space)
======================= ========== ====================================================

Files of the layouts written before (``tools/infer.py``: ``pred_label`` a class name,
``pred_label_index``, ``probabilities``; ``tools/test.py --out``: one entry per
dialogue with lists) are read by :func:`upgrade_records`, which turns them into records.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

__all__ = ['RECORD_KEYS', 'prediction_records', 'upgrade_records', 'record_layout']

#: Every key a record may have, in the order records are written.
RECORD_KEYS = ('img_path', 'dialogue_id', 'utterance_id', 'speaker', 'text', 'start', 'end',
               'pred_label', 'pred_class', 'pred_score', 'gt_label', 'gt_class',
               'pred_scores', 'anchor_similarity', 'branch_predictions')

#: Meta fields of a data sample read as one value per utterance (``texts[i]`` ...).
_PER_UTTERANCE = (('utterance_id', 'utterance_ids'), ('speaker', 'speaker_names'),
                  ('text', 'texts'), ('start', 'starts'), ('end', 'ends'))


def _rows(value: Any, width: bool = False) -> list:
    """A tensor, array or list as a list of L items (``width``: of L rows, [L, C]);
    an image's single prediction ([C] scores, a 0-d label) is one row."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    value = np.asarray(value)
    return value.reshape(-1, value.shape[-1]).tolist() if width else value.reshape(-1).tolist()


def _field(sample: Any, key: str) -> Any:
    """A data field of a data sample, or of the dict MMEngine's evaluator passes."""
    return sample.get(key) if isinstance(sample, Mapping) else sample.get(key, None)


def _meta(sample: Any) -> Mapping[str, Any]:
    if isinstance(sample, Mapping):  # an evaluator's dict: meta fields are keys too
        return {**sample, **(sample.get('metainfo') or {})}
    return sample.metainfo


def prediction_records(data_sample: Any, classes: Sequence[str]) -> List[dict]:
    """The record of every utterance of one predicted dialogue.

    Args:
        data_sample: a :class:`~vega_mm.structures.ConversationDataSample` after the
            model's ``predict`` (or the dict of it that MMEngine's evaluator passes to
            metrics): ``pred_score`` [L, C], ``pred_label`` [L], ``branch_pred_labels``,
            ``anchor_similarity`` [L, C] (VEGA), ``gt_label`` [L] (``-1``: unlabelled).
            Its meta fields give the conversation: ``dialogue_id``, and where present
            ``utterance_ids``, ``speaker_names``, ``texts``, ``starts``, ``ends`` and
            ``gt_classes`` (the gold class names as the input wrote them), one per
            utterance.
        classes: the model's class names, in label order.

    Returns:
        One dict per utterance (the keys of :data:`RECORD_KEYS`, see the module
        docstring); the model's own fields, nothing recomputed but the softmax's
        maximum.
    """
    classes = [str(c) for c in classes]
    scores = _rows(_field(data_sample, 'pred_score'), width=True)
    labels = [int(k) for k in _rows(_field(data_sample, 'pred_label'))]
    n = len(labels)
    meta = _meta(data_sample)
    gold = _field(data_sample, 'gt_label')
    gold = [int(k) for k in _rows(gold)] if gold is not None else [-1] * n
    gold_names = meta.get('gt_classes')
    cosine = _field(data_sample, 'anchor_similarity')
    cosine = _rows(cosine, width=True) if cosine is not None else None
    branches = {k: [int(v) for v in _rows(t)]
                for k, t in (_field(data_sample, 'branch_pred_labels') or {}).items()}
    per_utt = {key: meta.get(plural) for key, plural in _PER_UTTERANCE}
    out = []
    for i in range(n):
        if meta.get('dialogue_id') is None and meta.get('img_path') is not None:
            r: Dict[str, Any] = dict(img_path=meta['img_path'])  # an image classifier's
            _predicted(r, labels[i], scores[i], gold[i], None, classes, cosine, branches, i)
            out.append(r)
            continue
        r = dict(dialogue_id=meta.get('dialogue_id'))
        ids = per_utt['utterance_id']
        r['utterance_id'] = str(ids[i]) if ids is not None else str(i)
        r['speaker'] = per_utt['speaker'][i] if per_utt['speaker'] is not None else None
        r['text'] = per_utt['text'][i] if per_utt['text'] is not None else None
        for key in ('start', 'end'):
            value = per_utt[key][i] if per_utt[key] is not None else None
            if value is not None:
                r[key] = float(value)
        name = gold_names[i] if gold_names is not None else None
        _predicted(r, labels[i], scores[i], gold[i], name, classes, cosine, branches, i)
        out.append(r)
    return out


def _predicted(r: Dict[str, Any], k: int, scores: List[float], gold: int,
               gold_name: Any, classes: List[str], cosine: Optional[list],
               branches: Dict[str, List[int]], i: int) -> None:
    """Add the prediction fields of utterance ``i`` to its record ``r``."""
    r.update(pred_label=k, pred_class=classes[k], pred_score=float(scores[k]))
    if gold_name is not None:  # as the input wrote it; -1: not one of the classes
        name = str(gold_name)
        r.update(gt_label=classes.index(name) if name in classes else -1, gt_class=name)
    elif gold >= 0:
        r.update(gt_label=gold, gt_class=classes[gold])
    r['pred_scores'] = {c: float(p) for c, p in zip(classes, scores)}
    if cosine is not None:
        r['anchor_similarity'] = {c: float(s) for c, s in zip(classes, cosine[i])}
    r['branch_predictions'] = {b: classes[v[i]] for b, v in branches.items()}


def record_layout(entry: Mapping[str, Any]) -> str:
    """Which layout a prediction entry is in: ``'record'`` (this module's),
    ``'infer_v1'`` (``tools/infer.py`` before: ``pred_label`` a class name,
    ``probabilities``) or ``'test_v1'`` (``tools/test.py --out`` before: one entry per
    dialogue, ``pred_label`` a list); ``'unknown'`` otherwise."""
    label = entry.get('pred_label')
    if isinstance(label, list):
        return 'test_v1'
    if 'probabilities' in entry or 'pred_label_index' in entry or isinstance(label, str):
        return 'infer_v1'
    if isinstance(label, int) and isinstance(entry.get('pred_scores'), Mapping):
        return 'record'
    return 'unknown'


def _from_infer_v1(entry: Mapping[str, Any], classes: List[str], where: str) -> dict:
    scores = dict(entry.get('probabilities') or {})
    name = str(entry['pred_label'])
    if name not in classes:
        raise ValueError(f'{where}: pred_label {name!r} is not one of the classes '
                         f'{classes}')
    r = {k: entry[k] for k in ('dialogue_id', 'utterance_id', 'speaker', 'text', 'start',
                                 'end') if k in entry}
    r.update(pred_label=int(entry.get('pred_label_index', classes.index(name))),
             pred_class=name, pred_score=float(scores.get(name, float('nan'))))
    if entry.get('gt_label') is not None:
        gold = str(entry['gt_label'])
        r.update(gt_label=classes.index(gold) if gold in classes else -1, gt_class=gold)
    r['pred_scores'] = {str(c): float(p) for c, p in scores.items()}
    if 'anchor_similarity' in entry:
        r['anchor_similarity'] = dict(entry['anchor_similarity'])
    r['branch_predictions'] = dict(entry.get('branch_predictions') or {})
    return r


def _from_test_v1(entry: Mapping[str, Any], classes: List[str], where: str) -> List[dict]:
    labels = list(entry['pred_label'])
    n = len(labels)
    for key in ('pred_score', 'gt_label', 'utterance_ids', 'anchor_similarity'):
        if entry.get(key) is not None and len(entry[key]) != n:
            raise ValueError(f'{where}: {key!r} has {len(entry[key])} items but '
                             f'pred_label has {n}')
    if entry.get('pred_score') is None:
        raise ValueError(f'{where}: no "pred_score" (expected the per-dialogue entries of '
                         'tools/test.py --out)')
    meta = dict(dialogue_id=entry.get('dialogue_id'), utterance_ids=entry.get('utterance_ids'))
    sample = dict(meta, pred_label=labels, pred_score=entry['pred_score'],
                  gt_label=entry.get('gt_label'),
                  anchor_similarity=entry.get('anchor_similarity'),
                  branch_pred_labels=entry.get('branch_pred_labels'))
    return prediction_records(sample, classes)


def upgrade_records(entries: Sequence[Mapping[str, Any]], classes: Optional[Sequence[str]],
                    source: str = 'predictions') -> List[dict]:
    """Prediction entries of any layout written so far, as records.

    Args:
        entries: records, or the entries of an older ``tools/infer.py`` output
            (``pred_label`` a class name, ``pred_label_index``, ``probabilities``) or
            of an older ``tools/test.py --out`` file (one entry per dialogue with lists).
        classes: the class names (needed for the older layouts; the files record them).
        source: named in errors (e.g. the file).

    Raises:
        ValueError: an entry of no known layout, or an older one without ``classes``;
            the message says which entry and how to convert.
    """
    out: List[dict] = []
    names = [str(c) for c in classes] if classes else None
    for i, entry in enumerate(entries):
        where = (f'{source}: entry {i} (dialogue '
                 f'{entry.get("dialogue_id") if isinstance(entry, Mapping) else None!r})')
        layout = record_layout(entry) if isinstance(entry, Mapping) else 'unknown'
        if layout == 'record':
            out.append(dict(entry))
            continue
        if layout == 'unknown':
            raise ValueError(
                f'{where}: not a prediction record (expected pred_label as an int and '
                'pred_scores {class: p}, as tools/infer.py and tools/test.py --out write '
                'them); rerun the tool that made the file to get the current layout')
        if names is None:
            raise ValueError(f'{where}: an older layout ({layout}) needs the class names; '
                             'the file has no "classes" entry: give them, or rerun the tool '
                             'that made the file')
        if layout == 'infer_v1':
            out.append(_from_infer_v1(entry, names, where))
        else:
            out.extend(_from_test_v1(entry, names, where))
    return out

"""Writing per-utterance predictions of :class:`~vega_mm.apis.ConversationInferencer`
as ``.jsonl`` (one utterance a line), ``.json`` (a list, with the classes) or ``.csv``
(one column per class probability, anchor similarity and branch prediction)."""
import csv
import json
import os
import os.path as osp
from typing import List, Optional, Sequence

__all__ = ['OUTPUT_SUFFIXES', 'check_output_path', 'write_predictions', 'flatten_prediction']

OUTPUT_SUFFIXES = ('.jsonl', '.json', '.csv')
_NESTED = (('probabilities', 'prob_'), ('anchor_similarity', 'anchor_cos_'),
           ('branch_predictions', 'pred_'))


def check_output_path(path: str) -> str:
    """The output suffix; checked before any work.

    Raises:
        ValueError: an unknown suffix, or a path that is a directory.
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f'{path}: the output must end with one of {OUTPUT_SUFFIXES}')
    if osp.isdir(path):
        raise ValueError(f'{path} is a directory; give a file name')
    return suffix


def flatten_prediction(pred: dict) -> dict:
    """One prediction as a flat row: ``probabilities['joy']`` -> ``prob_joy`` etc."""
    row = {k: v for k, v in pred.items() if k not in dict(_NESTED)}
    for key, prefix in _NESTED:
        for name, value in (pred.get(key) or {}).items():
            row[prefix + name] = value
    return row


def write_predictions(predictions: Sequence[dict], path: str,
                      classes: Optional[Sequence[str]] = None,
                      info: Optional[dict] = None) -> str:
    """Write predictions to ``path`` (format from its suffix).

    Args:
        predictions: per-utterance dicts (``ConversationInferencer`` results).
        path: ``.jsonl``, ``.json`` or ``.csv``.
        classes: recorded in ``.json`` output.
        info: more top-level entries of ``.json`` output (config, checkpoint, input).
    """
    suffix = check_output_path(path)
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    tmp = path + '.tmp'
    with open(tmp, 'w', encoding='utf-8', newline='') as f:
        if suffix == '.jsonl':
            for p in predictions:
                f.write(json.dumps(p, ensure_ascii=False) + '\n')
        elif suffix == '.json':
            json.dump(dict(info or {}, classes=list(classes or []),
                           predictions=list(predictions)), f, ensure_ascii=False, indent=1)
        else:
            rows: List[dict] = [flatten_prediction(p) for p in predictions]
            fields: List[str] = []
            for r in rows:
                fields.extend(k for k in r if k not in fields)
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows(rows)
    os.replace(tmp, path)  # a reader never sees half a file
    return path

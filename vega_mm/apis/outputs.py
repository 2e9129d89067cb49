"""Writing per-utterance predictions of :class:`~vega_mm.apis.ConversationInferencer`
as ``.jsonl`` (one utterance a line), ``.json`` (a list, with the classes) or ``.csv``
(one column per class probability, anchor similarity and branch prediction)."""
import csv
import io
import json
import os.path as osp
from typing import List, Optional, Sequence

from vega_mm.utils.io import atomic_write_bytes, check_output_file

__all__ = ['OUTPUT_SUFFIXES', 'check_output_path', 'write_predictions', 'flatten_prediction']

OUTPUT_SUFFIXES = ('.jsonl', '.json', '.csv')
_NESTED = (('probabilities', 'prob_'), ('anchor_similarity', 'anchor_cos_'),
           ('branch_predictions', 'pred_'))


def check_output_path(path: str, what: str = 'output') -> str:
    """The output suffix; checked, with the folder it goes to
    (:func:`~vega_mm.utils.io.check_output_file`; ``what`` names the path in messages,
    e.g. ``'--out'``), before any work.

    Raises:
        ValueError: an unknown suffix, a path that is a directory, or a folder that
            cannot be created or written.
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f'{path}: the output must end with one of {OUTPUT_SUFFIXES}')
    check_output_file(path, what)
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
    f = io.StringIO(newline='')
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
    atomic_write_bytes(path, f.getvalue().encode('utf-8'))  # never half a file
    return path

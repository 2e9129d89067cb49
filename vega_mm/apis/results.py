"""The results of runs: the file a training run writes, reading it back, summaries over
seeds, and the printed table.

A training run (``tools/train.py``) ends by writing ``{work_dir}/results.json``:
``dict(best_checkpoint=..., val={'erc/accuracy': ..., ...}, test={...})`` (see
:func:`~vega_mm.apis.evaluate_best_checkpoint`).  The multi-seed benchmark
(``vega_mm.benchmarking``) reads these files back.
"""
import json
import os.path as osp
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from vega_mm.structures.meta import HEADLINE_METRICS, METRIC_PREFIX, metric_name
from vega_mm.utils.io import atomic_write_json

__all__ = ['RESULTS_FILE', 'results_path', 'read_run_results', 'finished_run_results',
           'update_run_results', 'run_metric', 'collect_run_metrics', 'mean_std',
           'format_results_table']

#: The file a training run writes its evaluation into, in its work dir.
RESULTS_FILE = 'results.json'


def results_path(work_dir: str) -> str:
    """The results file of the run in ``work_dir``."""
    return osp.join(work_dir, RESULTS_FILE)


def read_run_results(work_dir: str) -> Dict[str, Any]:
    """The results of the finished run in ``work_dir``.

    Raises:
        FileNotFoundError: the run has not written its results (unfinished, failed, or
            trained with ``--no-test``).
    """
    path = results_path(work_dir)
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path} does not exist: the run in {work_dir} has not '
                                'finished its evaluation')
    with open(path) as f:
        return json.load(f)


def finished_run_results(work_dir: str) -> Optional[Dict[str, Any]]:
    """The results of the run in ``work_dir`` if it finished, else ``None``."""
    return read_run_results(work_dir) if osp.isfile(results_path(work_dir)) else None


def update_run_results(work_dir: str, **entries: Any) -> Dict[str, Any]:
    """Add entries (e.g. ``seconds``) to a finished run's results file.

    Returns:
        The updated results.
    """
    results = dict(read_run_results(work_dir), **entries)
    atomic_write_json(results_path(work_dir), results, indent=2)
    return results


def run_metric(results: Mapping[str, Any], split: str, name: str) -> float:
    """One metric of a split of a run's results, with or without the metric prefix.

    Args:
        results: a run's results (:func:`read_run_results`).
        split: ``'val'`` or ``'test'``.
        name: e.g. ``'weighted_f1'`` (found as ``erc/weighted_f1`` or ``weighted_f1``).

    Raises:
        KeyError: naming the split and the metrics it has.
    """
    block = results.get(split) or {}
    for key in (f'{METRIC_PREFIX}/{name}', name):
        if key in block:
            return float(block[key])
    raise KeyError(f'no {name} in the {split} results {sorted(block)}')


def collect_run_metrics(runs: Sequence[Mapping[str, Any]], split: str,
                        names: Sequence[str]) -> Dict[str, List[float]]:
    """The metrics of several runs (e.g. seeds) side by side.

    Returns:
        ``{name: [value of run 0, value of run 1, ...]}``.
    """
    return {name: [run_metric(r, split, name) for r in runs] for name in names}


def mean_std(values: Sequence[float]) -> str:
    """``'mean +- std'`` with 2 decimals; the sample std (ddof=1), 0 for one value."""
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise ValueError('mean_std of no values')
    return f'{v.mean():.2f} +- {v.std(ddof=1) if v.size > 1 else 0.0:.2f}'


def _strip(metrics: Dict[str, float]) -> Dict[str, float]:
    return {metric_name(k): v for k, v in (metrics or {}).items()}


def format_results_table(columns: Dict[str, Optional[Dict[str, float]]]) -> str:
    """A markdown table: one row per metric, one column per split (values in %).

    Headline metrics first, then per-class F1, then per-branch weighted F1.
    """
    columns = {name: _strip(m) for name, m in columns.items() if m}
    if not columns:
        return '(no results)'
    keys = []
    for m in columns.values():
        for k in m:
            if k not in keys:
                keys.append(k)
    order = [k for k in HEADLINE_METRICS if k in keys]
    order += [k for k in keys if k.startswith('f1_')]
    order += [k for k in keys if k.startswith('weighted_f1_')]
    order += [k for k in keys if k not in order]
    names = list(columns)
    lines = ['| metric (%) | ' + ' | '.join(names) + ' |',
             '|---|' + '---:|' * len(names)]
    for k in order:
        cells = [f'{columns[n][k]:.2f}' if k in columns[n] else '' for n in names]
        lines.append(f'| {k} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)

"""Training curves from MMEngine's JSON scalar logs (``vis_data/scalars.json``)."""
import glob
import json
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np

from .figures import new_figure

__all__ = ['find_scalar_logs', 'join_scalar_logs', 'load_scalar_log', 'run_name',
           'curve_points', 'plot_curves']


def find_scalar_logs(path: str) -> List[str]:
    """The JSON logs of a run, oldest first: ``[path]`` for a file; for a work dir,
    every ``<timestamp>/vis_data/scalars.json`` (a resumed run has one per start), or
    else every ``<timestamp>/*.log.json``.

    Raises:
        FileNotFoundError: ``path`` does not exist or the work dir holds no log.
    """
    if osp.isfile(path):
        return [path]
    if osp.isdir(path):
        for pattern in (('*', 'vis_data', 'scalars.json'), ('*', '*.log.json')):
            found = sorted(glob.glob(osp.join(path, *pattern)))  # timestamps sort in time
            if found:
                return found
        raise FileNotFoundError(f'{path}: no */vis_data/scalars.json (or */*.log.json) in '
                                'this work dir')
    raise FileNotFoundError(f'log {path!r} does not exist (expected a scalars.json or a '
                            'work dir)')


def join_scalar_logs(paths: Sequence[str]) -> List[dict]:
    """The rows of a run's logs, oldest first, joined: a resumed run repeats the epochs
    after its checkpoint, and the later log's rows replace the earlier log's for the
    same training epoch (iteration, in an iteration-based run) and validation step.

    Returns:
        Training rows in step order, then validation rows in step order.
    """
    train: Dict[object, List[dict]] = {}
    val: Dict[object, dict] = {}
    for path in paths:
        fresh: Dict[object, List[dict]] = {}
        for row in load_scalar_log(path):
            if 'lr' in row:  # a training row: whole epochs replace whole epochs
                fresh.setdefault(row.get('epoch', ('step', row['step'])), []).append(row)
            else:
                val[row['step']] = row
        train.update(fresh)
    rows = sorted((r for group in train.values() for r in group), key=lambda r: r['step'])
    return rows + [val[step] for step in sorted(val)]


def load_scalar_log(path: str) -> List[dict]:
    """The rows of a JSON-lines scalar log (one dict per logged step).

    Raises:
        ValueError: a line that is not a JSON object (names the file and line).
    """
    rows = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f'{path}, line {number}: not JSON ({exc}); expected '
                                 "MMEngine's scalars.json (one JSON object a line)")
            if not isinstance(row, dict) or 'step' not in row:
                raise ValueError(f'{path}, line {number}: expected a JSON object with '
                                 'a "step"')
            rows.append(row)
    if not rows:
        raise ValueError(f'{path}: the log is empty')
    return rows


def run_name(path: str) -> str:
    """A short name for a log: the work dir's name for ``<work_dir>/<ts>/vis_data/
    scalars.json``, else the file name without extension."""
    parts = osp.abspath(path).split(osp.sep)
    if len(parts) >= 4 and parts[-2] == 'vis_data':
        return parts[-4]
    return osp.splitext(osp.basename(path))[0]


def curve_points(rows: Sequence[dict], key: str) -> Dict[str, object]:
    """x and y of one key, on a common x axis.

    Training rows (those with ``lr``, MMEngine's marker) carry ``epoch`` and a global
    ``step`` (iteration) in epoch-based runs: x is the fractional epoch ``step / n``
    (kept within its epoch), ``n`` the iterations per epoch estimated from the log.
    Validation rows' ``step`` is the epoch then.  Iteration-based runs use ``step``
    for both.

    Returns:
        ``dict(x=array, y=array, xlabel=str)``.

    Raises:
        KeyError: the key is in no row (names the keys that are there).
    """
    train = [r for r in rows if 'lr' in r]
    val = [r for r in rows if 'lr' not in r]
    by_epoch = bool(train) and 'epoch' in train[0]
    source = train if any(key in r for r in train) else val
    picked = [r for r in source if key in r]
    if not picked:
        keys = sorted({k for r in rows for k in r} - {'step', 'epoch', 'iter'})
        raise KeyError(f'key {key!r} is not in the log; it has {keys}')
    x = np.array([r['step'] for r in picked], dtype=float)
    if by_epoch and source is train:
        epochs = np.array([r['epoch'] for r in picked], dtype=float)
        x = np.clip(x / _iters_per_epoch(train), epochs - 1, epochs)
    y = np.array([r[key] for r in picked], dtype=float)
    return dict(x=x, y=y, xlabel='epoch' if by_epoch else 'iteration')


def _iters_per_epoch(train: Sequence[dict]) -> float:
    # The logger writes every `interval` iterations and skips an epoch's last, partial
    # interval, so an epoch's largest logged step can fall short of its end; the
    # distance between the first logged steps of the first and last epochs does not.
    first_step: Dict[int, int] = {}
    for r in train:
        first_step.setdefault(r['epoch'], r['step'])
    epochs = sorted(first_step)
    if len(epochs) >= 2:
        return (first_step[epochs[-1]] - first_step[epochs[0]]) / (epochs[-1] - epochs[0])
    return max(r['step'] for r in train) / epochs[0]


def plot_curves(logs: Dict[str, Sequence[dict]], keys: Sequence[str],
                title: Optional[str] = None):
    """One panel per key, one line per run (validation keys with markers).

    Args:
        logs: ``{run name: rows}`` (from :func:`load_scalar_log`).
        keys: what to plot, e.g. ``['loss', 'erc/weighted_f1']``.
        title: the figure's title.

    Returns:
        A matplotlib ``Figure``.
    """
    fig = new_figure((8.0, 2.2 + 2.6 * len(keys)))
    axes = fig.subplots(len(keys), 1, sharex=True, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys):
        for name, rows in logs.items():
            points = curve_points(rows, key)
            is_val = not any(key in r for r in rows if 'lr' in r)
            ax.plot(points['x'], points['y'], marker='o' if is_val else None,
                    markersize=3, linewidth=1.2, label=name)
        ax.set_ylabel(key)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc='best')
    axes[-1].set_xlabel(points['xlabel'])
    if title:
        fig.suptitle(title)
    return fig

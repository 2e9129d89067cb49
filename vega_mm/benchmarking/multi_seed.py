"""Multi-seed benchmarks: every (config, seed) trained through the Runner, summarised
over seeds (``tools/multi_seed.py``).

Each run is one ``tools/train.py`` subprocess (train, select the best epoch on
validation, test that checkpoint; it writes ``results.json``), in
``{work_dir}/{name}/seed{seed}``.  Runs go ``jobs`` at a time, each with
``cores // jobs`` threads so parallel runs do not oversubscribe the CPU.  A finished run
is reused when it was made with the same config, seed and options (recorded in its
results file); a different one is an error, not a silent mix::

    entries = [BenchmarkEntry('configs/vega/vega_synthetic.py'),
               BenchmarkEntry('configs/sdt/sdt_synthetic.py')]
    report = run_benchmark(entries, seeds=[0, 1, 2], work_dir='work_dirs/bench',
                           train_script='tools/train.py', baseline='logreg')
    print(benchmark_table(report))
"""
import os
import os.path as osp
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Tuple

from vega_mm.apis.results import (collect_run_metrics, finished_run_results, mean_std,
                                  results_path, update_run_results)
from vega_mm.structures.meta import HEADLINE_METRICS, metric_name
from vega_mm.utils.io import atomic_write_bytes, atomic_write_json
from .baselines import config_logistic_regression

__all__ = ['BenchmarkEntry', 'config_digest', 'available_cores', 'plan_jobs', 'run_dir',
           'train_run', 'run_benchmark', 'run_breakdown', 'benchmark_table',
           'parse_cfg_options', 'save_benchmark']

#: Where a run records what it was made with (in its results file).
_RECORD = 'benchmark'


class BenchmarkEntry(NamedTuple):
    """One row of a benchmark: a config, its name (the work-dir folder and table label;
    default the config's file name) and extra ``--cfg-options`` for it alone."""
    config: str
    name: str = ''
    cfg_options: Tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name or osp.splitext(osp.basename(self.config))[0]


def available_cores() -> int:
    """CPU cores this process may use (its affinity mask, else ``os.cpu_count()``)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def plan_jobs(requested: Optional[int], pending: int,
              cores: Optional[int] = None) -> Tuple[int, int]:
    """Parallel runs and threads per run.

    Args:
        requested: runs wanted in parallel (None: one per core).
        pending: runs still to train.
        cores: cores available (default :func:`available_cores`).

    Returns:
        ``(jobs, threads)``: ``min(requested, cores, pending)`` (at least 1) runs, each
        with ``cores // jobs`` threads (at least 1).
    """
    cores = cores or available_cores()
    if requested is not None and requested < 1:
        raise ValueError(f'jobs must be >= 1, got {requested}')
    jobs = max(1, min(requested or cores, cores, max(pending, 1)))
    return jobs, max(1, cores // jobs)


def run_dir(work_dir: str, name: str, seed: int) -> str:
    """The work dir of one run."""
    return osp.join(work_dir, name, f'seed{seed}')


def parse_cfg_options(options: Sequence[str]) -> Dict[str, Any]:
    """``['a.b=1', ...]`` parsed as ``tools/train.py --cfg-options`` parses them."""
    import argparse

    from mmengine.config import DictAction
    parser = argparse.ArgumentParser()
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, default={})
    return dict(parser.parse_args(['--cfg-options', *options]).cfg_options
                if options else {})


def config_digest(config: str) -> str:
    """SHA-256 of a config as the Runner reads it (its ``_base_`` files merged in), so an
    edit of the file or of a base it inherits changes the digest and a reformatting does
    not."""
    import hashlib
    import json

    from mmengine.config import Config
    if not osp.isfile(config):
        raise ValueError(f'{config}: no such config file')
    try:
        cfg = Config.fromfile(config).to_dict()
    except Exception as exc:  # a syntax error, a missing base file, ...
        raise ValueError(f'{config}: cannot read the config: {type(exc).__name__}: '
                         f'{exc}') from exc
    text = json.dumps(cfg, sort_keys=True, default=lambda o: f'<{type(o).__name__}>')
    return hashlib.sha256(text.encode('utf-8')).hexdigest()


def _record(config: str, seed: int, cfg_options: Sequence[str]) -> Dict[str, Any]:
    return dict(config=osp.abspath(config), config_digest=config_digest(config), seed=seed,
                cfg_options=list(cfg_options))


def _record_mismatch(path: str, old: Optional[Dict[str, Any]], new: Dict[str, Any]) -> str:
    old = old or {}
    changed = [k for k in new if old.get(k) != new[k]]
    what = ('the config file (or a base file it inherits) was edited after this run'
            if changed == ['config_digest'] and old.get('config_digest') else
            ', '.join(f'{k} {old.get(k)!r} (now {new[k]!r})' for k in changed))
    return (f'{path}: this finished run does not match the benchmark: {what}; pass '
            '--rerun to train it again or use another --work-dir')


def train_run(config: str, seed: int, work_dir: str, train_script: str,
              cfg_options: Sequence[str] = (), rerun: bool = False,
              threads: int = 0) -> Dict[str, Any]:
    """One run: ``train_script CONFIG --seed S --work-dir DIR --cfg-options ...``.

    A run already finished in ``work_dir`` with the same config, seed and options is
    reused (unless ``rerun``).  The output goes to ``{work_dir}/stdout.log``.

    Args:
        config: config file.
        seed: the run's seed (``--seed``).
        work_dir: the run's work dir.
        train_script: ``tools/train.py`` of the checkout.
        cfg_options: ``key=value`` strings for ``--cfg-options``.
        rerun: train again even if finished.
        threads: ``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` of the run (0: inherited).

    Returns:
        The run's results (``results.json``) with ``seconds`` (wall time of the
        training; None for a reused run that has none) and the record of what it ran.

    Raises:
        ValueError: a finished run in ``work_dir`` was made with other settings.
        RuntimeError: the training failed or wrote no results (see its stdout.log).
    """
    record = _record(config, seed, cfg_options)
    res = None if rerun else finished_run_results(work_dir)
    if res is not None:
        if res.get(_RECORD) != record:
            raise ValueError(_record_mismatch(results_path(work_dir), res.get(_RECORD),
                                              record))
        res.setdefault('seconds', None)
        return res
    # a fresh run: an unfinished or rerun one's checkpoints must not mix with the new ones
    cmd = [sys.executable, train_script, config, '--work-dir', work_dir, '--seed', str(seed),
           '--overwrite']
    if cfg_options:
        cmd += ['--cfg-options', *cfg_options]
    os.makedirs(work_dir, exist_ok=True)
    if rerun and osp.isfile(results_path(work_dir)):
        os.remove(results_path(work_dir))  # a failed rerun must not leave the old one
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    log = osp.join(work_dir, 'stdout.log')
    start = time.time()
    with open(log, 'w') as f:
        proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0 or finished_run_results(work_dir) is None:
        raise RuntimeError(f'training failed (exit {proc.returncode}): {" ".join(cmd)}; '
                           f'see {log}')
    return update_run_results(work_dir, seconds=time.time() - start, **{_RECORD: record})


def run_benchmark(entries: Sequence[BenchmarkEntry], seeds: Sequence[int], work_dir: str,
                  train_script: str, jobs: Optional[int] = None,
                  cfg_options: Sequence[str] = (), rerun: bool = False,
                  baseline: Optional[str] = None,
                  baseline_entry: Optional[BenchmarkEntry] = None,
                  log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Train every (entry, seed), ``jobs`` at a time, and collect the results.

    Args:
        entries: the configs (rows); their labels must differ.
        seeds: the seeds of every config.
        work_dir: runs go to ``{work_dir}/{label}/seed{seed}``.
        train_script: ``tools/train.py``.
        jobs: runs in parallel (None: one per core); see :func:`plan_jobs`.
        cfg_options: ``key=value`` options for every run (before each entry's own).
        rerun: ignore finished runs.
        baseline: ``'logreg'`` adds the context-free logistic regression on the data of
            ``baseline_entry`` (``C`` and class weighting chosen on validation).
        baseline_entry: whose data (config and options) the baseline uses; default the
            first entry.
        log: progress messages.

    Returns:
        The benchmark,
        ``dict(seeds, work_dir, cfg_options, rows=[dict(name, config, runs={seed:
        results})], baseline=None or its results, seconds)``.

    Raises:
        RuntimeError: listing every run that failed (the others still finish).
    """
    baseline_entry = _check_benchmark(entries, seeds, baseline, baseline_entry)
    start = time.time()
    todo = [(e, s) for e in entries for s in seeds]
    pending = sum(rerun or finished_run_results(run_dir(work_dir, e.label, s)) is None
                  for e, s in todo)
    n_jobs, threads = plan_jobs(jobs, pending)
    log(f'{len(todo)} runs ({pending} to train), {n_jobs} at a time with {threads} '
        f'thread(s) each')

    def one(job: Tuple[BenchmarkEntry, int]):
        entry, seed = job
        wd = run_dir(work_dir, entry.label, seed)
        try:
            res = train_run(entry.config, seed, wd, train_script,
                            [*cfg_options, *entry.cfg_options], rerun, threads)
        except (RuntimeError, ValueError) as exc:
            log(f'{entry.label} seed {seed}: FAILED: {exc}')
            return exc
        secs = res.get('seconds')
        log(f'{entry.label} seed {seed}: val weighted F1 '
            f'{collect_run_metrics([res], "val", ["weighted_f1"])["weighted_f1"][0]:.2f}'
            + ('' if secs is None else f' ({secs:.0f} s)'))
        return res

    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        done = dict(zip(todo, pool.map(one, todo)))
    failed = [f'{e.label} seed {s}: {r}' for (e, s), r in done.items()
              if isinstance(r, Exception)]
    if failed:
        raise RuntimeError(f'{len(failed)} of {len(todo)} runs failed:\n' + '\n'.join(failed))
    report: Dict[str, Any] = dict(
        seeds=list(seeds), work_dir=work_dir, cfg_options=list(cfg_options),
        rows=[dict(name=e.label, config=e.config, cfg_options=list(e.cfg_options),
                   runs={str(s): done[(e, s)] for s in seeds}) for e in entries],
        baseline=None)
    if baseline == 'logreg':
        report['baseline'] = _logreg_baseline(baseline_entry, cfg_options, log)
    report['seconds'] = time.time() - start
    return report


def _check_benchmark(entries: Sequence[BenchmarkEntry], seeds: Sequence[int],
                     baseline: Optional[str],
                     baseline_entry: Optional[BenchmarkEntry]) -> Optional[BenchmarkEntry]:
    """The arguments of :func:`run_benchmark`, checked before the first run; returns
    the entry whose data the baseline uses."""
    labels = [e.label for e in entries]
    repeated = sorted({s for s in seeds if list(seeds).count(s) > 1})
    if repeated:
        raise ValueError(f'seeds {list(seeds)} repeat {repeated}: a seed is one run, and '
                         'a repeated one would be counted twice in the mean')
    if not seeds:
        raise ValueError('no seeds: give at least one')
    for entry in entries:  # every config readable before the first run starts
        config_digest(entry.config)
    if len(set(labels)) != len(labels):
        raise ValueError(f'benchmark entries need distinct names, got {labels}')
    if baseline not in (None, 'logreg'):
        raise ValueError(f"baseline must be None or 'logreg', got {baseline!r}")
    baseline_entry = baseline_entry or (entries[0] if entries else None)
    if baseline and baseline_entry is None:
        raise ValueError('a baseline needs a config for its data: give baseline_entry')
    return baseline_entry


def _logreg_baseline(entry: BenchmarkEntry, cfg_options: Sequence[str],
                     log: Callable[[str], None]) -> Dict[str, Any]:
    """The context-free logistic regression on ``entry``'s data (C and class weighting
    chosen on validation)."""
    t0 = time.time()
    res = config_logistic_regression(entry.config,
                                     parse_cfg_options([*cfg_options, *entry.cfg_options]))
    log(f'logreg: C={res["C"]}, class weights {res["class_weight"]} (chosen on val)')
    return dict(res, name='logistic regression (no context)', data_of=entry.config,
                seconds=time.time() - t0)


_BEST_EPOCH = re.compile(r'epoch_(\d+)')


def _best_epoch(results: Dict[str, Any]) -> Optional[int]:
    match = _BEST_EPOCH.search(osp.basename(str(results.get('best_checkpoint') or '')))
    return int(match.group(1)) if match else None


def run_breakdown(results: Dict[str, Any]) -> Dict[str, Any]:
    """Per-class and per-branch F1 of one run, per split (from its ``results.json``).

    Returns:
        The breakdown of the run,
        ``dict(per_class_f1={split: {class: F1}}, per_branch_f1={split: {branch:
        weighted F1}}, best_epoch=int or None, seconds=...)``.
    """
    out: Dict[str, Any] = dict(per_class_f1={}, per_branch_f1={},
                               best_epoch=_best_epoch(results),
                               seconds=results.get('seconds'))
    for split in ('val', 'test'):
        block = {metric_name(k): v for k, v in (results.get(split) or {}).items()}
        out['per_class_f1'][split] = {k[len('f1_'):]: v for k, v in block.items()
                                      if k.startswith('f1_')}
        out['per_branch_f1'][split] = {k[len('weighted_f1_'):]: v for k, v in block.items()
                                       if k.startswith('weighted_f1_')}
    return out


def _cell(values: Sequence[float]) -> str:
    return mean_std(values) if len(values) > 1 else f'{values[0]:.2f}'


def benchmark_table(report: Dict[str, Any], title: str = '',
                    complexity: Optional[Dict[str, Dict[str, float]]] = None) -> str:
    """The Markdown table of a :func:`run_benchmark` report: one row per config with val
    and test accuracy, weighted F1 and macro F1 (mean +- std over seeds), the best epoch
    of each seed and the mean wall time per run; with ``complexity`` ({row name:
    :func:`~vega_mm.benchmarking.config_complexity`}), its parameters and forward FLOPs
    per utterance too."""
    heads = [f'{split} {m.replace("_", " ")}' for split in ('val', 'test')
             for m in HEADLINE_METRICS]
    extra = ['params', 'FLOPs / utt.'] if complexity else []
    lines = [title, ''] if title else []
    lines += ['| model | ' + ' | '.join(heads + extra) + ' | best epoch | time / run |',
              '|---|' + '---:|' * (len(heads) + len(extra) + 2)]
    for row in report['rows']:
        runs = [row['runs'][str(s)] for s in report['seeds']]
        cells = [_cell(collect_run_metrics(runs, split, [m])[m])
                 for split in ('val', 'test') for m in HEADLINE_METRICS]
        epochs = ', '.join(str(_best_epoch(r)) for r in runs)
        secs = [r['seconds'] for r in runs if r.get('seconds') is not None]
        time_cell = f'{sum(secs) / len(secs) / 60:.1f} min' if secs else 'n/a'
        stem = osp.splitext(osp.basename(row['config']))[0]
        label = row['name'] if row['name'] == stem else \
            f'{row["name"]} ({osp.basename(row["config"])})'
        if complexity:
            c = complexity.get(row['name'])
            cells += [f'{c["params"] / 1e6:.2f} M', f'{c["flops_per_utterance"] / 1e6:.2f} M']\
                if c else ['n/a', 'n/a']
        lines.append(f'| {label} | ' + ' | '.join(cells)
                     + f' | {epochs} | {time_cell} |')
    base = report.get('baseline')
    if base:
        cells = [f'{base[split][m]:.2f}' for split in ('val', 'test') for m in HEADLINE_METRICS]
        cells += [''] * len(extra)
        lines.append(f'| {base["name"]} | ' + ' | '.join(cells)
                     + f' | | {base["seconds"] / 60:.1f} min |')
    return '\n'.join(lines)


def save_benchmark(report: Dict[str, Any], table: str, out_dir: str,
                   stem: str = 'benchmark') -> Tuple[str, str]:
    """Write the table (``{stem}.md``) and, beside it, the report with each run's
    per-class and per-branch F1 (``{stem}.json``: ``rows[i]['breakdown'][seed]``).

    Returns:
        The paths of the two files.
    """
    rows = [dict(row, breakdown={s: run_breakdown(r) for s, r in row['runs'].items()})
            for row in report['rows']]
    md, js = osp.join(out_dir, f'{stem}.md'), osp.join(out_dir, f'{stem}.json')
    atomic_write_json(js, dict(report, rows=rows, table=table), indent=1)  # may refuse
    atomic_write_bytes(md, (table + '\n').encode('utf-8'))
    return md, js

"""Benchmark configs over seeds: train every (config, seed) through the Runner, print
one Markdown table (val and test accuracy, weighted F1, macro F1 as mean +- std, best
epoch, time per run) and write it with a JSON of per-class and per-branch F1 per run.

    python tools/multi_seed.py configs/vega/vega_synthetic.py \\
        configs/sdt/sdt_synthetic.py configs/baselines/mlp_synthetic.py \\
        configs/baselines/bclstm_synthetic.py --seeds 0 1 2 --baseline logreg

Each run is ``tools/train.py CONFIG --seed S`` in ``WORK_DIR/<config name>/seed<S>``
(model selection on validation, then the best checkpoint is tested); finished runs are
reused.  Exits 1 if any run fails.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from vega_mm.benchmarking import (BenchmarkEntry, benchmark_table, config_complexity,
                                  run_benchmark, save_benchmark)

TRAIN = osp.join(osp.dirname(osp.abspath(__file__)), 'train.py')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('configs', nargs='+', help='config files (one table row each)')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--jobs', type=int, default=None,
                   help='runs in parallel (default and upper bound: the CPU cores); each '
                   'gets cores // jobs threads')
    p.add_argument('--work-dir', default='work_dirs/benchmark')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='key=value options passed to every run')
    p.add_argument('--baseline', choices=['logreg'], default=None,
                   help='add the context-free logistic regression on the first config\'s '
                   'data (C and class weighting chosen on validation)')
    p.add_argument('--complexity-length', type=int, default=0, metavar='N',
                   help='add each model\'s parameters and forward FLOPs per utterance, '
                   'counted on a dialogue of N utterances (0: no such columns)')
    p.add_argument('--rerun', action='store_true', help='train finished runs again')
    args = p.parse_args(argv)
    if args.complexity_length < 0:
        p.error(f'--complexity-length must be >= 0, got {args.complexity_length}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    entries = [BenchmarkEntry(c) for c in args.configs]
    # counted first: a config that cannot be counted fails before any training
    complexity = None
    if args.complexity_length:
        try:
            complexity = {e.label: config_complexity(
                e.config, [*args.cfg_options, *e.cfg_options], args.complexity_length)
                for e in entries}
        except ValueError as exc:
            print(f'benchmark failed: {exc}', file=sys.stderr)
            return 1
    try:
        report = run_benchmark(entries, args.seeds, args.work_dir, TRAIN, jobs=args.jobs,
                               cfg_options=args.cfg_options, rerun=args.rerun,
                               baseline=args.baseline,
                               log=lambda msg: print(msg, flush=True))
    except (RuntimeError, ValueError) as exc:
        print(f'benchmark failed: {exc}', file=sys.stderr)
        return 1
    title = (f'{len(args.seeds)} seed(s) {args.seeds}; model selection on validation'
             + (f'; cfg-options {" ".join(args.cfg_options)}' if args.cfg_options else ''))
    if complexity:
        title += f'; FLOPs counted on a dialogue of {args.complexity_length} utterances'
    table = benchmark_table(report, title, complexity)
    md, js = save_benchmark(report, table, args.work_dir)
    print(f'\n{table}\n\ntotal wall time: {report["seconds"] / 60:.1f} min\n'
          f'written: {md}, {js}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""Training and inference speed of vega_mm models on synthetic dialogues, in one table.

For each dialogue shape (MELD-like, IEMOCAP-like, fixed lengths) and precision (fp32,
bf16 autocast) it runs training steps (forward, backward, optimizer step) and inference
steps on random dialogues and prints utterances/s, the peak memory the run added and
where training time goes (data = padding by the data preprocessor, forward, backward,
optimizer); then the CPU's fp32 and bf16 rates on the backbone's products and a profile
of the first shape's training step.  ``--compare REF`` measures another checkout (e.g.
``git worktree add /tmp/vega_ref <commit>``) in the same invocation, alternating between
the two, and prints the ratios.  Not a test: numbers depend on the machine and its load.

    python tools/benchmarks/bench_training_speed.py
    python tools/benchmarks/bench_training_speed.py --compare /tmp/vega_ref --repeats 3
    python tools/benchmarks/bench_training_speed.py --shapes meld --precisions fp32 \\
        --cfg-options model.backbone.type=SDTBackbone model.fast_dropout=False  # reference

Every measurement runs ``speed/speed_worker.py`` in a fresh subprocess whose
``PYTHONPATH`` and working directory are the checkout being measured, so each side
imports its own ``vega_mm`` and configs.  Models are built from each shape's config with
random weights; absent anchor files are replaced by random anchors.
"""
import argparse
import os
import os.path as osp

from vega_mm.benchmarking.training_speed import (BATCH, SHAPES, cpu_model, matmul_rates,
                                                 profile_table, run_measurement, run_worker,
                                                 speed_table)

HERE = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
WORKER = osp.join(osp.dirname(osp.abspath(__file__)), 'speed', 'speed_worker.py')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', help='one config for every shape (default: the '
                        "shape's own: vega_meld.py for meld, vega_iemocap.py otherwise)")
    parser.add_argument('--shapes', nargs='+', default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument('--precisions', nargs='+', default=['fp32', 'bf16'],
                        choices=['fp32', 'bf16'])
    parser.add_argument('--compare', metavar='REF', help='another checkout to measure '
                        'alternately with this one (its own configs and package)')
    parser.add_argument('--repeats', type=int, default=1)
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--clock', choices=['wall', 'cpu'], default='wall',
                        help='cpu: utterances per CPU-second of the main thread, steadier '
                        'than wall time on a shared machine (needs --threads 1)')
    parser.add_argument('--max-dialogues', type=int, default=None,
                        help='at most this many dialogues per shape (a quick run)')
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help="key=value overrides for this checkout's configs only")
    parser.add_argument('--compile', action='store_true',
                        help="torch.compile this checkout's backbone (Inductor; needs a C++ "
                        'compiler); the first step, compile included, is printed')
    parser.add_argument('--matmul-peak', action='store_true',
                        help="print the CPU model and its fp32 and bf16 GFLOP/s on the "
                        "backbone's products at --threads and exit")
    parser.add_argument('--rounds', type=int, default=4,
                        help='parts of the batches over which the precisions alternate '
                        'inside each measurement')
    parser.add_argument('--profile-steps', type=int, default=7,
                        help='training steps of the first shape profiled per precision '
                        '(torch.profiler, top operators by self CPU time); 0: no profile')
    parser.add_argument('--env', nargs='+', default=[], metavar='KEY=VALUE',
                        help="environment variables for this checkout's runs only, e.g. "
                        'THP_MEM_ALLOC_ENABLE=1 (PyTorch: large CPU tensors on huge pages)')
    args = parser.parse_args(argv)
    if args.clock == 'cpu' and args.threads != 1:
        parser.error('--clock cpu counts the main thread only: use it with --threads 1')
    for name in ('repeats', 'threads', 'rounds'):
        if getattr(args, name) < 1:
            parser.error(f'--{name} must be at least 1, got {getattr(args, name)}')
    if args.profile_steps < 0:
        parser.error(f'--profile-steps must be 0 or more, got {args.profile_steps}')
    env = {}
    for item in args.env:
        key, sep, value = item.partition('=')
        if not sep or not key:
            parser.error(f'--env {item!r}: expected KEY=VALUE')
        env[key] = value
    args.env = env
    if args.cfg_options:
        from mmengine.config import DictAction
        opts = argparse.Namespace()
        DictAction(option_strings=[], dest='o')(None, opts, args.cfg_options)
        args.cfg_options = opts.o
    return args


def job(args, shape: str, side: str) -> dict:
    count, shortest, longest = SHAPES[shape][1:]
    ours = side == 'ours'
    return dict(config=args.config or SHAPES[shape][0], batch=BATCH,
                shape=(min(count, args.max_dialogues or count), shortest, longest),
                precisions=args.precisions, cfg_options=args.cfg_options if ours else None,
                threads=args.threads, clock=args.clock, rounds=args.rounds,
                compile=args.compile and ours)


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.matmul_peak:
        print(f'CPU: {cpu_model()}\nthreads: {args.threads}')
        print(matmul_rates(args.threads))
        return
    print(f'CPU: {cpu_model()}\nload average at start: {os.getloadavg()[0]:.1f} (1 min)',
          flush=True)
    if args.env:
        print('this checkout runs with ' + ' '.join(f'{k}={v}' for k, v in args.env.items()))
    sides = [('ours', HERE)] + ([('ref', osp.abspath(args.compare))] if args.compare else [])
    runs = {}
    for repeat in range(args.repeats):
        for shape in args.shapes:
            # alternate which side goes first, so drifting load hits both alike
            for side, checkout in (sides if repeat % 2 == 0 else sides[::-1]):
                result = run_measurement(WORKER, checkout, job(args, shape, side),
                                         args.env if side == 'ours' else None)
                runs.setdefault((side, shape), []).append(result)
                print(f'[{repeat + 1}/{args.repeats}] {side} {shape}: ' + ', '.join(
                    f"{p} train {r['train']:.0f} infer {r['infer']:.0f} utt/s "
                    f"(first step {r['first_s']:.1f} s)"
                    for p, r in result['results'].items()), flush=True)
    first = runs[('ours', args.shapes[0])][0]
    print(f"\nclock: {args.clock}  threads: {first['threads']}  parameters ({args.shapes[0]}): "
          f"{first['parameters'] / 1e6:.1f} M  batch: {BATCH} dialogues  repeats: "
          f'{args.repeats}  (median, range in brackets)' +
          ('  backbone: torch.compile' if args.compile else ''))
    print('shapes: ' + '; '.join(f'{k} = {min(v[1], args.max_dialogues or v[1])} dialogues '
                                 f'of {v[2]}-{v[3]} utterances, '
                                 f'{osp.basename(args.config or v[0])}'
                                 for k, v in SHAPES.items() if k in args.shapes))
    if args.compare:
        print(f'REF = {args.compare}; "x" columns: this checkout / REF, per pair of '
              'adjacent runs')
    print(speed_table(runs, args.shapes, args.precisions, bool(args.compare)))
    print(f'load average at end: {os.getloadavg()[0]:.1f} (1 min)')
    print(f"\nThe backbone's matrix products on this CPU ({args.threads} threads):")
    print(matmul_rates(args.threads))
    if args.profile_steps:
        profiles = run_worker(WORKER, HERE, dict(job(args, args.shapes[0], 'ours'),
                                                 profile=args.profile_steps, compile=False),
                              extra_env=args.env)
        print(f'\nWhere a training step of this checkout goes ({args.shapes[0]}, '
              f'{args.threads} threads; torch.profiler, self CPU time):')
        print(profile_table(profiles))


if __name__ == '__main__':
    main()

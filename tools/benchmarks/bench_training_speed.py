"""Training and inference speed of vega_mm models on synthetic dialogues, in one table.

For each dialogue shape (MELD-like, IEMOCAP-like, fixed lengths) and precision (fp32,
bf16 autocast) it runs training steps (forward, backward, optimizer step) and inference
steps on random dialogues and prints utterances/s, the peak memory the run added, and
where training time goes (data = padding by the data preprocessor, forward, backward,
optimizer).  Speed is measured with the default memory allocator; peak memory in a
second process, on the two largest batches, with freed memory returned to the system
(see :func:`run_worker`), after the libraries a run imports are loaded.  ``--compare REF`` runs the same measurements on another checkout (e.g.
today's main: ``git worktree add /tmp/vega_ref <commit>``) in the same invocation,
alternating between the two, and prints the ratios.  Not a test: numbers depend on the
machine and on what else runs on it.

    python tools/benchmarks/bench_training_speed.py
    python tools/benchmarks/bench_training_speed.py --compare /tmp/vega_ref --repeats 3
    python tools/benchmarks/bench_training_speed.py --shapes meld --precisions fp32 \\
        --cfg-options model.backbone.type=SDTBackbone model.fast_dropout=False  # reference

Every measurement runs in a fresh subprocess whose ``PYTHONPATH`` and working directory
are the checkout being measured, so each side imports its own ``vega_mm`` and configs.
Models are built from the config of each shape (the checkout's own file) with random
weights; anchor files that are not present are replaced by random anchors of the
configured dimension (speed does not depend on their values).
"""
import argparse
import contextlib
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import threading
import time

# Shapes: config, dialogues (count, shortest, longest), batch size.  MELD-like: the
# issue's 200 dialogues of 2-19 utterances.  IEMOCAP-like: 54 dialogues of 24-72
# utterances (IEMOCAP's training dialogues average 48).  Fixed lengths: about 1000
# utterances each (at least one batch).
SHAPES = {
    'meld': ('configs/vega/vega_meld.py', 200, 2, 19),
    'iemocap': ('configs/vega/vega_iemocap.py', 54, 24, 72),
    **{f'len{n}': ('configs/vega/vega_iemocap.py', 9 * max(1, round(1000 / (9 * n))), n, n)
       for n in (10, 50, 200, 500)},
}
BATCH = 9
PHASES = ('data', 'forward', 'backward', 'optimizer')


# ----------------------------------------------------------------------------- worker
class PeakRSS:
    """Peak resident memory of this process while in the block, sampled every 5 ms, in
    MB above the value at entry (glibc returns freed large blocks to the system, see
    ``MALLOC_MMAP_THRESHOLD_`` in :func:`run_worker`)."""

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def _watch(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> float:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20

    @property
    def added_mb(self) -> float:
        return self.peak - self.base


def _model_cfg(config: str, cfg_options):
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    try:  # the modalities declaration (absent from older checkouts)
        from vega_mm.utils import apply_modalities
        cfg = apply_modalities(cfg)
    except ImportError:
        pass
    # the VEGA head: inside the one head (today) or its own slot (older checkouts)
    vega = (cfg.model.get('head') or {}).get('vega_head') or cfg.model.get('vega_head') or {}
    bank = vega.get('anchor_bank')
    if bank is not None and bank.get('anchor_file') and not osp.isfile(bank.anchor_file):
        bank.update(anchor_file=None, random_anchors=True, dim=bank.get('dim') or 512)
    return cfg


def _dialogues(model_cfg, count: int, shortest: int, longest: int, seed: int = 0):
    """Batches of random dialogues as a data loader gives them, in the layout of
    the checkout being measured."""
    import torch
    backbone = model_cfg.backbone
    dims = dict(backbone.input_dims)
    if model_cfg.get('modalities'):
        dims = {m: dims[m] for m in model_cfg.modalities}
    classes = len(model_cfg.classes) if model_cfg.get('classes') else \
        model_cfg.head.num_classes
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(shortest, longest + 1, (count, ), generator=gen).tolist()
    try:
        from vega_mm.datasets import random_dialogue_batch
    except ImportError:  # --compare with a checkout from before random_dialogue_batch
        random_dialogue_batch = _older_layout_batch
    return [random_dialogue_batch(dims, lengths[start:start + BATCH], classes,
                                  num_speakers=backbone.num_speakers, seed=seed + start)
            for start in range(0, count, BATCH)]


def _older_layout_batch(dims, lengths, num_classes, num_speakers, seed):
    """Checkouts whose pipeline gave ``inputs={m: [L, D]}`` and the speakers in the data
    sample: the same random batch in that layout."""
    import torch
    from vega_mm.structures import ConversationDataSample
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i, n in enumerate(lengths):
        inputs.append({m: torch.randn(n, d, generator=gen) for m, d in dims.items()})
        sample = ConversationDataSample(metainfo=dict(dialogue_id=f'd{i}'))
        sample.set_gt_label(torch.randint(0, num_classes, (n, ), generator=gen))
        sample.set_speaker(torch.randint(0, num_speakers, (n, ), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def _train_steps(model, optim, batches, autocast: dict, now) -> dict:
    """Train on ``batches``; the seconds per phase (:data:`PHASES`), the first batch (the
    warm-up) not counted."""
    import torch
    model.train()
    times = dict.fromkeys(PHASES, 0.0)
    for i, batch in enumerate(batches):
        marks = [now()]
        with torch.autocast(**autocast):
            data = model.data_preprocessor(batch, True)
            marks.append(now())
            loss, _ = model.parse_losses(model(**data, mode='loss'))
        marks.append(now())
        loss.backward()
        marks.append(now())
        optim.step()
        optim.zero_grad()
        marks.append(now())
        if i:  # not the warm-up step
            for phase, start, end in zip(PHASES, marks, marks[1:]):
                times[phase] += end - start
    return times


def measure(config: str, shape: tuple, precisions, cfg_options=None,
            clock: str = 'wall', memory: bool = False) -> dict:
    """Train and inference speed of one config on one dialogue shape, per precision.

    ``clock='cpu'`` counts the CPU time of this (the main) thread instead of wall time:
    on a machine shared with other jobs it measures the work done rather than the share
    of the CPU received.  Only meaningful with one thread, where every operator runs
    on the main thread.

    ``memory=True`` measures the peak memory instead, on the two largest batches (the
    peak comes from the largest padded batch, the model and the optimizer state), while
    a thread samples the resident size; times are then not reported.
    """
    import torch
    now = time.thread_time if clock == 'cpu' else time.perf_counter
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from vega_mm.registry import MODELS
    init_default_scope('vega_mm')
    cfg = _model_cfg(config, cfg_options)
    batches = _dialogues(cfg.model, *shape)
    warmup = _dialogues(cfg.model, BATCH, 4, 4, seed=1)[0]
    if memory:
        def padded(b):
            lengths = [len(s.gt_label) for s in b['data_samples']]
            return len(lengths) * max(lengths)
        batches = sorted(batches, key=padded, reverse=True)[:2]
    utterances = sum(len(s.gt_label) for b in batches for s in b['data_samples'])
    # Building an optimizer wrapper imports the scope's whole registry (vega_mm's
    # engine and evaluation: scikit-learn, pandas, ...), about 140 MB of libraries that
    # are not the run's memory: import them before measuring.
    build_optim_wrapper(torch.nn.Linear(1, 1), dict(type='OptimWrapper',
                                                    optimizer=dict(type='SGD', lr=0.1)))
    results = {}
    for precision in precisions:
        torch.manual_seed(0)
        autocast = dict(device_type='cpu', dtype=torch.bfloat16,
                        enabled=precision == 'bf16')
        with (PeakRSS() if memory else contextlib.nullcontext()) as peak:
            model = MODELS.build(cfg.model)
            parameters = sum(p.numel() for p in model.parameters())
            # The same optimizer as the config, with autocast done here (as the bf16
            # optim wrapper does), so that both checkouts run the same steps.
            optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
            optim_cfg.pop('dtype', None)
            optim = build_optim_wrapper(model, optim_cfg)
            times = _train_steps(model, optim, [warmup] + batches, autocast, now)
            model.eval()
            with torch.no_grad(), torch.autocast(**autocast):
                model.test_step(warmup)
                start = now()
                for batch in batches:
                    model.test_step(batch)
                infer = now() - start
        train = sum(times.values())
        results[precision] = dict(peak_mb=peak.added_mb) if memory else dict(
            train=utterances / train, infer=utterances / infer,
            split={k: v / train for k, v in times.items()})
        del model, optim
    import vega_mm
    return dict(results=results, utterances=utterances, package=vega_mm.__file__,
                threads=torch.get_num_threads(), parameters=parameters)


def matmul_peak(threads: int) -> str:
    """GFLOP/s of the model's typical products on this machine (the ceiling of a step
    made only of matrix products): [9, N, 768] x [9, 768, 768] batched and [N, 768] x
    [768, 768] single, fp32 and bf16."""
    import torch
    torch.set_num_threads(threads)
    rows = ['| product | fp32 GFLOP/s | bf16 GFLOP/s |', '|---|---:|---:|']
    for n in (90, 430):
        for batched in (True, False):
            cells = []
            for dtype in (torch.float32, torch.bfloat16):
                p = 9 if batched else 1
                a = torch.randn(p, n, 768, dtype=dtype)
                b = torch.randn(p, 768, 768, dtype=dtype)
                torch.bmm(a, b)
                start, reps = time.perf_counter(), 20
                for _ in range(reps):
                    torch.bmm(a, b)
                cells.append(f'{2 * p * n * 768 * 768 * reps / (time.perf_counter() - start) / 1e9:.0f}')
            name = f'[9, {n}, 768] x [9, 768, 768]' if batched else f'[{n}, 768] x [768, 768]'
            rows.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


# ----------------------------------------------------------------------------- driver
def run_worker(checkout: str, shape: str, args) -> dict:
    """One measurement of ``checkout``'s vega_mm, in two subprocesses: speed with the
    default allocator, then peak memory with ``MALLOC_MMAP_THRESHOLD_`` lowered so that
    freed blocks go back to the system and the resident size follows what is in use
    (that setting costs page faults, which is why speed is not measured under it)."""
    count, shortest, longest = SHAPES[shape][1:]
    if args.max_dialogues:
        count = min(count, args.max_dialogues)
    job = dict(config=args.config or SHAPES[shape][0], shape=(count, shortest, longest),
               precisions=args.precisions, cfg_options=args.cfg_options,
               threads=args.threads, clock=args.clock)
    results = []
    for memory in (False, True):
        env = dict(os.environ, PYTHONPATH=checkout, OMP_NUM_THREADS=str(args.threads))
        if memory:
            env['MALLOC_MMAP_THRESHOLD_'] = '131072'
        proc = subprocess.run(
            [sys.executable, osp.abspath(__file__), '--worker',
             json.dumps(dict(job, memory=memory))],
            cwd=checkout, env=env, capture_output=True, text=True)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
        if proc.returncode or not lines:
            raise SystemExit(f'benchmark of {shape} in {checkout} failed (exit '
                             f'{proc.returncode}):\n{proc.stderr[-3000:]}')
        results.append(json.loads(lines[-1]))
        expected = osp.realpath(checkout)
        if not osp.realpath(results[-1]['package']).startswith(expected + os.sep):
            raise SystemExit(f'the worker for {checkout} imported vega_mm from '
                             f"{results[-1]['package']}, not from that checkout")
    speed, memory = results
    for precision, res in speed['results'].items():
        res.update(memory['results'][precision])
    return speed


def spread(values) -> str:
    """Median and range of repeated measurements, e.g. '412 (398-430)'."""
    med = statistics.median(values)
    fmt = (lambda v: f'{v:.2f}') if med < 10 else (lambda v: f'{v:.0f}')
    return fmt(med) if len(values) == 1 else f'{fmt(med)} ({fmt(min(values))}-' \
        f'{fmt(max(values))})'


def table(runs: dict, args) -> str:
    """runs[(side, shape)] = list of worker results, one per repeat."""
    head = ['shape', 'precision', 'train utt/s', 'infer utt/s', 'peak MB',
            'data/fwd/bwd/opt %']
    if args.compare:
        head += ['REF train', 'REF infer', 'REF peak MB', 'train x', 'infer x',
                 'train x REF fp32']
    rows = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for shape in args.shapes:
        ours = runs[('ours', shape)]
        for precision in args.precisions:
            res = [r['results'][precision] for r in ours]
            split = '/'.join(f"{statistics.median(r['split'][p] for r in res) * 100:.0f}"
                             for p in PHASES)
            cells = [shape, precision, spread([r['train'] for r in res]),
                     spread([r['infer'] for r in res]), spread([r['peak_mb'] for r in res]),
                     split]
            if args.compare:
                ref = [r['results'][precision] for r in runs[('ref', shape)]]
                ref32 = [r['results']['fp32'] for r in runs[('ref', shape)]] \
                    if 'fp32' in args.precisions else None
                # ratios of runs made next to each other, then their median and range
                cells += [spread([r['train'] for r in ref]), spread([r['infer'] for r in ref]),
                          spread([r['peak_mb'] for r in ref]),
                          spread([a['train'] / b['train'] for a, b in zip(res, ref)]),
                          spread([a['infer'] / b['infer'] for a, b in zip(res, ref)]),
                          spread([a['train'] / b['train'] for a, b in zip(res, ref32)])
                          if ref32 else '']
            rows.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


def parse_args():
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
                        help="at most this many dialogues per shape (a quick run)")
    parser.add_argument('--cfg-options', nargs='+', default=None,
                        help='key=value overrides for this checkout\'s configs only')
    parser.add_argument('--matmul-peak', action='store_true',
                        help="print this machine's matrix-product GFLOP/s at --threads "
                        "(the ceiling for a step that is all products) and exit")
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.clock == 'cpu' and args.threads != 1:
        raise SystemExit('--clock cpu counts the main thread only: use it with --threads 1')
    if args.matmul_peak:
        print(f'threads: {args.threads}')
        print(matmul_peak(args.threads))
        return
    if args.worker:
        job = json.loads(args.worker)
        import torch
        torch.set_num_threads(job['threads'])
        print(json.dumps(measure(job['config'], tuple(job['shape']), job['precisions'],
                                 job['cfg_options'], job['clock'], job['memory'])))
        return
    if args.cfg_options:
        from mmengine.config import DictAction
        opts = argparse.Namespace()
        DictAction(option_strings=[], dest='o')(None, opts, args.cfg_options)
        args.cfg_options = opts.o
    here = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    sides = [('ours', here)] + ([('ref', osp.abspath(args.compare))] if args.compare else [])
    runs = {}
    for repeat in range(args.repeats):
        for shape in args.shapes:
            # alternate which side goes first, so drifting load hits both alike
            for side, checkout in (sides if repeat % 2 == 0 else sides[::-1]):
                opts = args.cfg_options if side == 'ours' else None
                result = run_worker(checkout, shape, argparse.Namespace(
                    **{**vars(args), 'cfg_options': opts}))
                runs.setdefault((side, shape), []).append(result)
                print(f'[{repeat + 1}/{args.repeats}] {side} {shape}: ' + ', '.join(
                    f"{p} train {r['train']:.0f} infer {r['infer']:.0f} utt/s"
                    for p, r in result['results'].items()), flush=True)
    first = runs[('ours', args.shapes[0])][0]
    print(f"\nclock: {args.clock}  threads: {first['threads']}  parameters ({args.shapes[0]}): "
          f"{first['parameters'] / 1e6:.1f} M  batch: {BATCH} dialogues  repeats: "
          f'{args.repeats}  (median, range in brackets)')
    print('shapes: ' + '; '.join(f'{k} = {min(v[1], args.max_dialogues or v[1])} dialogues '
                                 f'of {v[2]}-{v[3]} utterances, '
                                 f'{osp.basename(args.config or v[0])}'
                                 for k, v in SHAPES.items() if k in args.shapes))
    if args.compare:
        print(f'REF = {args.compare}; "x" columns: this checkout / REF, per pair of '
              'adjacent runs')
    print(table(runs, args))


if __name__ == '__main__':
    main()

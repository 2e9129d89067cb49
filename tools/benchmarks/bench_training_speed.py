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
from typing import Optional

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
    # the backbone's settings (``neck`` in checkouts from before the backbone slot)
    backbone = model_cfg.get('backbone') or model_cfg.neck
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


def _train_steps(model, optim, batches, autocast: dict, now, warmup: bool = True) -> dict:
    """Train on ``batches``; the seconds per phase (:data:`PHASES`), the first batch (the
    warm-up) not counted unless ``warmup=False``."""
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
        if i or not warmup:  # not the warm-up step
            for phase, start, end in zip(PHASES, marks, marks[1:]):
                times[phase] += end - start
    return times


def measure(config: str, shape: tuple, precisions, cfg_options=None,
            clock: str = 'wall', memory: bool = False, rounds: int = 4) -> dict:
    """Train and inference speed of one config on one dialogue shape, per precision.

    ``clock='cpu'`` counts the CPU time of this (the main) thread instead of wall time:
    on a machine shared with other jobs it measures the work done rather than the share
    of the CPU received.  Only meaningful with one thread, where every operator runs
    on the main thread.

    Speed: the precisions' models are built side by side and trained (then run for
    inference) in alternation on ``rounds`` interleaved parts of the batches.

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
    def build(precision):
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        # The same optimizer as the config, with autocast done here (as the bf16
        # optim wrapper does), so that both checkouts run the same steps.
        optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
        optim_cfg.pop('dtype', None)
        return model, build_optim_wrapper(model, optim_cfg), dict(
            device_type='cpu', dtype=torch.bfloat16, enabled=precision == 'bf16')

    def infer(model, autocast, chunk):
        model.eval()
        with torch.no_grad(), torch.autocast(**autocast):
            start = now()
            for batch in chunk:
                model.test_step(batch)
            return now() - start

    results = {}
    if memory:  # one precision at a time: the peak of each alone
        for precision in precisions:
            with PeakRSS() as peak:
                model, optim, autocast = build(precision)
                parameters = sum(p.numel() for p in model.parameters())
                _train_steps(model, optim, [warmup] + batches, autocast, now)
                model.eval()
                infer(model, autocast, [warmup] + batches)
            results[precision] = dict(peak_mb=peak.added_mb)
            del model, optim
    else:
        # All precisions built side by side and run in alternation, chunk by chunk (the
        # order reversed every other chunk), so that a load that drifts during the run
        # hits them alike and their ratio is measured in one process.
        arms = {p: build(p) for p in precisions}
        parameters = sum(p.numel() for p in arms[precisions[0]][0].parameters())
        chunks = [batches[i::rounds] for i in range(min(rounds, len(batches)))]
        times = {p: dict.fromkeys(PHASES, 0.0) for p in precisions}
        infer_s = dict.fromkeys(precisions, 0.0)
        for model, optim, autocast in arms.values():  # warm-up
            _train_steps(model, optim, [warmup], autocast, now)
            model.train()
            infer(model, autocast, [warmup])
        for r, chunk in enumerate(chunks):
            for precision in (precisions if r % 2 == 0 else precisions[::-1]):
                model, optim, autocast = arms[precision]
                step = _train_steps(model, optim, chunk, autocast, now, warmup=False)
                for phase, seconds in step.items():
                    times[precision][phase] += seconds
                infer_s[precision] += infer(model, autocast, chunk)
        for precision in precisions:
            train = sum(times[precision].values())
            results[precision] = dict(
                train=utterances / train, infer=utterances / infer_s[precision],
                split={k: v / train for k, v in times[precision].items()})
        del arms
    import vega_mm
    return dict(results=results, utterances=utterances, package=vega_mm.__file__,
                threads=torch.get_num_threads(), parameters=parameters)


def cpu_model() -> str:
    """The CPU's model name and its bf16 matrix features (from /proc/cpuinfo), and the
    instruction set PyTorch's kernels use here."""
    import torch
    name, flags = 'unknown CPU', set()
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                key, _, value = line.partition(':')
                if key.strip() == 'model name':
                    name = value.strip()
                elif key.strip() == 'flags':
                    flags = set(value.split())
    except OSError:  # not Linux
        import platform
        name = platform.processor() or name
    bf16 = [f for f in ('avx512_bf16', 'amx_bf16', 'amx_tile') if f in flags]
    capability = torch.backends.cpu.get_cpu_capability()
    return (f"{name}, {os.cpu_count()} logical CPUs; bf16 units: {', '.join(bf16) or 'none'}"
            f'; PyTorch {torch.__version__} kernels: {capability}')


# The backbone's products on a MELD batch (N ~ 90 real utterances of 9 dialogues; 430 for
# IEMOCAP-like batches): P = 9 pairs, H = 768.  name -> (a shape, b shape, transpose a)
PRODUCTS = {
    'forward [9,N,768] x [9,768,768]': ((9, 'N', 768), (9, 768, 768), False),
    'forward k,v [9,N,768] x [9,768,1536]': ((9, 'N', 768), (9, 768, 1536), False),
    'weight grad [9,768,N] x [9,N,768] (contiguous)': ((9, 768, 'N'), (9, 'N', 768), False),
    'weight grad x^T view [9,N,768]^T x [9,N,768]': ((9, 'N', 768), (9, 'N', 768), True),
    'input proj [N,1024] x [1024,768]': ((1, 'N', 1024), (1, 1024, 768), False),
}


def matmul_rates(threads: int, rows=(90, 430), seconds: float = 0.2) -> str:
    """GFLOP/s of the backbone's products (:data:`PRODUCTS`) in fp32 and bf16 at
    ``threads`` threads, for N in ``rows``: the ceiling of a step made only of products,
    and whether bf16 pays on this CPU.  Precisions alternate, medians of 5 rounds."""
    import torch
    torch.set_num_threads(threads)
    lines = ['| product | N | fp32 GFLOP/s | bf16 GFLOP/s | bf16 / fp32 |',
             '|---|---:|---:|---:|---:|']
    for name, (sa, sb, transpose) in PRODUCTS.items():
        for n in rows:
            shape_a = [n if d == 'N' else d for d in sa]
            shape_b = [n if d == 'N' else d for d in sb]
            flops = 2 * shape_a[0] * shape_a[2 if transpose else 1] * \
                shape_a[1 if transpose else 2] * shape_b[2]
            args = {}
            for dtype in (torch.float32, torch.bfloat16):
                a, b = torch.randn(shape_a, dtype=dtype), torch.randn(shape_b, dtype=dtype)
                args[dtype] = (a.transpose(1, 2) if transpose else a, b)
                torch.bmm(*args[dtype])  # oneDNN builds its kernel for the shape
            rates = {dtype: [] for dtype in args}
            for r in range(5):
                for dtype in (list(args) if r % 2 == 0 else list(args)[::-1]):
                    reps, start = 0, time.perf_counter()
                    while time.perf_counter() - start < seconds / 5:
                        torch.bmm(*args[dtype])
                        reps += 1
                    rates[dtype].append(flops * reps / (time.perf_counter() - start) / 1e9)
            fp32, bf16 = (statistics.median(rates[d]) for d in args)
            lines.append(f'| {name} | {n} | {fp32:.0f} | {bf16:.0f} | {bf16 / fp32:.1f} |')
    return '\n'.join(lines)


def profile_steps(config: str, shape: tuple, precisions, cfg_options=None, steps: int = 7,
                  top: int = 12) -> dict:
    """Self CPU time of the top operators over ``steps`` training steps (after one
    warm-up step) per precision, with torch.profiler: where a step's time goes."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from torch.profiler import ProfilerActivity, profile

    from vega_mm.registry import MODELS
    init_default_scope('vega_mm')
    cfg = _model_cfg(config, cfg_options)
    batches = _dialogues(cfg.model, *shape)[:steps + 1]
    out = {}
    for precision in precisions:
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
        optim_cfg.pop('dtype', None)
        optim = build_optim_wrapper(model, optim_cfg)
        autocast = dict(device_type='cpu', dtype=torch.bfloat16, enabled=precision == 'bf16')
        _train_steps(model, optim, batches[:1], autocast, time.perf_counter)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            _train_steps(model, optim, batches[1:], autocast, time.perf_counter,
                         warmup=False)
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        total = sum(e.self_cpu_time_total for e in events)
        out[precision] = dict(
            steps=len(batches) - 1, total_ms=total / 1e3,
            top=[(e.key, e.self_cpu_time_total / 1e3, e.count) for e in events[:top]])
        del model, optim
    return out


def profile_table(profiles: dict) -> str:
    """Top operators per precision: self CPU ms over the profiled steps, calls, share."""
    lines = []
    for precision, prof in profiles.items():
        lines.append(f"{precision}: {prof['total_ms']:.0f} ms self CPU time in "
                     f"{prof['steps']} steps")
        lines.append('| op | self CPU ms | calls | share |')
        lines.append('|---|---:|---:|---:|')
        for name, ms, calls in prof['top']:
            lines.append(f'| `{name}` | {ms:.0f} | {calls} | '
                         f"{ms / prof['total_ms'] * 100:.0f}% |")
        lines.append('')
    return '\n'.join(lines)


# ----------------------------------------------------------------------------- driver
def _worker(checkout: str, job: dict, threads: int, memory: bool = False,
            extra_env: Optional[dict] = None):
    """Run ``job`` in a fresh interpreter that imports ``checkout``'s vega_mm, with
    ``extra_env`` added to its environment."""
    env = dict(os.environ, **(extra_env or {}), PYTHONPATH=checkout,
               OMP_NUM_THREADS=str(threads))
    if memory:
        env['MALLOC_MMAP_THRESHOLD_'] = '131072'
    return subprocess.run([sys.executable, osp.abspath(__file__), '--worker', json.dumps(job)],
                          cwd=checkout, env=env, capture_output=True, text=True)


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
               threads=args.threads, clock=args.clock, rounds=args.rounds)
    results = []
    for memory in (False, True):
        proc = _worker(checkout, dict(job, memory=memory), args.threads, memory,
                       args.env if checkout == args.here else None)
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
            'data/fwd/bwd/opt %', 'train x own fp32', 'infer x own fp32']
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
            own32 = [r['results']['fp32'] for r in ours] if 'fp32' in args.precisions \
                else None
            cells = [shape, precision, spread([r['train'] for r in res]),
                     spread([r['infer'] for r in res]), spread([r['peak_mb'] for r in res]),
                     split]
            # bf16 / fp32 measured in the same process, alternating (see measure)
            cells += [spread([a[k] / b[k] for a, b in zip(res, own32)]) if own32 else ''
                      for k in ('train', 'infer')]
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
                        help="print the CPU model and its fp32 and bf16 GFLOP/s on the "
                        "backbone's products at --threads (the ceiling for a step that is "
                        "all products) and exit")
    parser.add_argument('--rounds', type=int, default=4,
                        help='parts of the batches over which the precisions alternate '
                        'inside each measurement')
    parser.add_argument('--profile-steps', type=int, default=7,
                        help='training steps of the first shape profiled per precision '
                        '(torch.profiler, top operators by self CPU time); 0: no profile')
    parser.add_argument('--env', nargs='+', default=[], metavar='KEY=VALUE',
                        help="environment variables for this checkout's runs only, e.g. "
                        'THP_MEM_ALLOC_ENABLE=1 (PyTorch: large CPU tensors on huge pages)')
    parser.add_argument('--worker', help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    if args.clock == 'cpu' and args.threads != 1:
        raise SystemExit('--clock cpu counts the main thread only: use it with --threads 1')
    if args.matmul_peak:
        print(f'CPU: {cpu_model()}\nthreads: {args.threads}')
        print(matmul_rates(args.threads))
        return
    if args.worker:
        job = json.loads(args.worker)
        import torch
        torch.set_num_threads(job['threads'])
        if job.get('profile'):
            print(json.dumps(profile_steps(job['config'], tuple(job['shape']),
                                           job['precisions'], job['cfg_options'],
                                           job['profile'])))
        else:
            print(json.dumps(measure(job['config'], tuple(job['shape']), job['precisions'],
                                     job['cfg_options'], job['clock'], job['memory'],
                                     job['rounds'])))
        return
    env = {}
    for item in args.env:
        key, sep, value = item.partition('=')
        if not sep or not key:
            raise SystemExit(f'--env {item!r}: expected KEY=VALUE')
        env[key] = value
    args.env = env
    for name in ('repeats', 'threads', 'rounds'):
        if getattr(args, name) < 1:
            raise SystemExit(f'--{name} must be at least 1, got {getattr(args, name)}')
    if args.profile_steps < 0:
        raise SystemExit(f'--profile-steps must be 0 or more, got {args.profile_steps}')
    if args.cfg_options:
        from mmengine.config import DictAction
        opts = argparse.Namespace()
        DictAction(option_strings=[], dest='o')(None, opts, args.cfg_options)
        args.cfg_options = opts.o
    import torch
    print(f'CPU: {cpu_model()}\nload average at start: {os.getloadavg()[0]:.1f} (1 min)',
          flush=True)
    here = args.here = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    if env:
        print('this checkout runs with ' + ' '.join(f'{k}={v}' for k, v in env.items()))
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
    print(f'load average at end: {os.getloadavg()[0]:.1f} (1 min)')
    print(f"\nThe backbone's matrix products on this CPU ({args.threads} threads):")
    print(matmul_rates(args.threads))
    torch.set_num_threads(1)
    if args.profile_steps:
        shape = args.shapes[0]
        count, shortest, longest = SHAPES[shape][1:]
        job = dict(config=args.config or SHAPES[shape][0],
                   shape=(count, shortest, longest),  # it takes the first steps + 1
                   precisions=args.precisions, cfg_options=args.cfg_options,
                   threads=args.threads, profile=args.profile_steps)
        proc = _worker(here, job, args.threads, extra_env=args.env)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
        if proc.returncode or not lines:
            raise SystemExit(f'profiling {shape} failed (exit {proc.returncode}):\n'
                             f'{proc.stderr[-3000:]}')
        print(f'\nWhere a training step of this checkout goes ({shape}, '
              f'{args.threads} threads; torch.profiler, self CPU time):')
        print(profile_table(json.loads(lines[-1])))


if __name__ == '__main__':
    main()

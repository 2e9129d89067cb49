"""The training-speed benchmark's driver and report (``tools/benchmarks/
bench_training_speed.py``): dialogue shapes, the CPU line, the rates of the backbone's
matrix products, one measurement per subprocess, and the tables.

The measurements themselves run in ``tools/benchmarks/speed/speed_worker.py``, in a
fresh interpreter per checkout (``--compare`` measures another checkout with its own
package), so they are not part of this module.
"""
import json
import os
import os.path as osp
import statistics
import subprocess
import sys
import time
from typing import Dict, Iterable, List, Optional, Sequence

__all__ = ['SHAPES', 'BATCH', 'PHASES', 'PRODUCTS', 'PRODUCT_OPS', 'cpu_model',
           'matmul_rates', 'run_worker', 'run_measurement', 'spread', 'speed_table',
           'profile_table']

#: Shapes: config, dialogues (count, shortest, longest).  MELD-like: 200 dialogues of
#: 2-19 utterances.  IEMOCAP-like: 54 dialogues of 24-72 utterances (IEMOCAP's training
#: dialogues average 48).  Fixed lengths: about 1000 utterances each (at least a batch).
SHAPES = {
    'meld': ('configs/vega/vega_meld.py', 200, 2, 19),
    'iemocap': ('configs/vega/vega_iemocap.py', 54, 24, 72),
    **{f'len{n}': ('configs/vega/vega_iemocap.py', 9 * max(1, round(1000 / (9 * n))), n, n)
       for n in (10, 50, 200, 500)},
}
BATCH = 9
PHASES = ('data', 'forward', 'backward', 'optimizer')
#: The operators that are matrix products (what a faster precision speeds up).
PRODUCT_OPS = ('aten::bmm', 'aten::baddbmm', 'aten::mm', 'aten::addmm')

# The backbone's products on a MELD batch (N ~ 90 real utterances of 9 dialogues; 430 for
# IEMOCAP-like batches): P = 9 pairs, H = 768.  name -> (a shape, b shape, transpose a)
PRODUCTS = {
    'forward [9,N,768] x [9,768,768]': ((9, 'N', 768), (9, 768, 768), False),
    'forward k,v [9,N,768] x [9,768,1536]': ((9, 'N', 768), (9, 768, 1536), False),
    'weight grad [9,768,N] x [9,N,768] (contiguous)': ((9, 768, 'N'), (9, 'N', 768), False),
    'weight grad x^T view [9,N,768]^T x [9,N,768]': ((9, 'N', 768), (9, 'N', 768), True),
    'input proj [N,1024] x [1024,768]': ((1, 'N', 1024), (1, 1024, 768), False),
}


def cpu_model() -> str:
    """The CPU's model name, its bf16 matrix features (from /proc/cpuinfo) and the
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


def _product_rate(args, flops: int, seconds: float) -> float:
    import torch
    reps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        torch.bmm(*args)
        reps += 1
    return flops * reps / (time.perf_counter() - start) / 1e9


def matmul_rates(threads: int, rows: Iterable[int] = (90, 430), seconds: float = 0.2) -> str:
    """GFLOP/s of the backbone's products (:data:`PRODUCTS`) in fp32 and bf16 at
    ``threads`` threads for N in ``rows``: the ceiling of a step made only of products
    and whether bf16 pays on this CPU.  Precisions alternate; medians of 5 rounds."""
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
                    rates[dtype].append(_product_rate(args[dtype], flops, seconds / 5))
            fp32, bf16 = (statistics.median(rates[d]) for d in args)
            lines.append(f'| {name} | {n} | {fp32:.0f} | {bf16:.0f} | {bf16 / fp32:.1f} |')
    return '\n'.join(lines)


def run_worker(worker: str, checkout: str, job: dict, memory: bool = False,
               extra_env: Optional[dict] = None) -> dict:
    """Run one job of ``worker`` (the path of ``speed_worker.py``) in a fresh
    interpreter that imports ``checkout``'s vega_mm, and return its JSON.  ``memory``: freed blocks go back to the system
    (``MALLOC_MMAP_THRESHOLD_``), so the resident size follows what is in use; that
    costs page faults, which is why speed is measured without it."""
    env = dict(os.environ, **(extra_env or {}), PYTHONPATH=checkout,
               OMP_NUM_THREADS=str(job['threads']))
    if memory:
        env['MALLOC_MMAP_THRESHOLD_'] = '131072'
    proc = subprocess.run([sys.executable, worker, json.dumps(job)],
                          cwd=checkout, env=env, capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith('{')]
    if proc.returncode or not lines:
        raise SystemExit(f'benchmark job in {checkout} failed (exit {proc.returncode}):\n'
                         f'{proc.stderr[-3000:]}')
    return json.loads(lines[-1])


def run_measurement(worker: str, checkout: str, job: dict,
                    extra_env: Optional[dict] = None) -> dict:
    """Speed (default allocator), then peak memory, of one job in ``checkout``; the
    speed result with each precision's ``peak_mb`` added."""
    speed = run_worker(worker, checkout, dict(job, memory=False), False, extra_env)
    memory = run_worker(worker, checkout, dict(job, memory=True), True, extra_env)
    if not osp.realpath(speed['package']).startswith(osp.realpath(checkout) + os.sep):
        raise SystemExit(f"the worker for {checkout} imported vega_mm from "
                         f"{speed['package']}, not from that checkout")
    for precision, res in speed['results'].items():
        res.update(memory['results'][precision])
    return speed


def spread(values: Sequence[float]) -> str:
    """Median and range of repeated measurements, e.g. '412 (398-430)'."""
    med = statistics.median(values)
    fmt = (lambda v: f'{v:.2f}') if med < 10 else (lambda v: f'{v:.0f}')
    return fmt(med) if len(values) == 1 else \
        f'{fmt(med)} ({fmt(min(values))}-{fmt(max(values))})'


def _ratios(a: List[dict], b: List[dict], key: str) -> str:
    return spread([x[key] / y[key] for x, y in zip(a, b)])


def speed_table(runs: Dict[tuple, List[dict]], shapes: Sequence[str],
                precisions: Sequence[str], compare: bool) -> str:
    """``runs[(side, shape)]``: the worker results of each repeat; one Markdown row per
    shape and precision, with bf16 / fp32 and this checkout / REF ratios taken per pair
    of runs made next to each other."""
    head = ['shape', 'precision', 'train utt/s', 'infer utt/s', 'peak MB',
            'data/fwd/bwd/opt %', 'train x own fp32', 'infer x own fp32']
    if compare:
        head += ['REF train', 'REF infer', 'REF peak MB', 'train x', 'infer x',
                 'train x REF fp32']
    rows = ['| ' + ' | '.join(head) + ' |', '|' + '---|' * len(head)]
    for shape in shapes:
        ours = [r['results'] for r in runs[('ours', shape)]]
        for precision in precisions:
            res = [r[precision] for r in ours]
            own32 = [r['fp32'] for r in ours] if 'fp32' in precisions else None
            cells = [shape, precision, spread([r['train'] for r in res]),
                     spread([r['infer'] for r in res]), spread([r['peak_mb'] for r in res]),
                     '/'.join(f"{statistics.median(r['split'][p] for r in res) * 100:.0f}"
                              for p in PHASES)]
            cells += [_ratios(res, own32, k) if own32 else '' for k in ('train', 'infer')]
            if compare:
                refs = [r['results'] for r in runs[('ref', shape)]]
                ref = [r[precision] for r in refs]
                cells += [spread([r['train'] for r in ref]), spread([r['infer'] for r in ref]),
                          spread([r['peak_mb'] for r in ref]), _ratios(res, ref, 'train'),
                          _ratios(res, ref, 'infer'),
                          _ratios(res, [r['fp32'] for r in refs], 'train')
                          if own32 else '']
            rows.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(rows)


def _split(prof: dict):
    """(products ms, casts ms, everything else ms) of one profile."""
    ops = prof['ops']
    products = sum(ops.get(op, (0, 0))[0] for op in PRODUCT_OPS)
    casts = ops.get('aten::copy_', (0, 0))[0]
    return products, casts, prof['total_ms'] - products - casts


def profile_table(profiles: dict) -> str:
    """Top operators per precision (self CPU ms over the profiled steps, calls, share),
    then where the time goes by kind and what that bounds: only the matrix products get
    faster in a lower precision, so the rest of an fp32 step bounds the gain."""
    lines = []
    for precision, prof in profiles.items():
        lines += [f"{precision}: {prof['total_ms']:.0f} ms self CPU time in "
                  f"{prof['steps']} steps", '| op | self CPU ms | calls | share |',
                  '|---|---:|---:|---:|']
        lines += [f"| `{name}` | {ms:.0f} | {calls} | {ms / prof['total_ms'] * 100:.0f}% |"
                  for name, ms, calls in prof['top']]
        lines.append('')
    lines += ['| precision | matrix products ms | casts (`aten::copy_`) ms | the rest ms |',
              '|---|---:|---:|---:|']
    lines += ['| {} | {:.0f} | {:.0f} | {:.0f} |'.format(p, *_split(prof))
              for p, prof in profiles.items()]
    if {'fp32', 'bf16'} <= set(profiles):
        p32, c32, r32 = _split(profiles['fp32'])
        p16, c16, r16 = _split(profiles['bf16'])
        total32, total16 = profiles['fp32']['total_ms'], profiles['bf16']['total_ms']
        lines += ['', f'bf16 runs the products {p32 / max(p16, 1e-9):.1f}x faster; the '
                  f'step {total32 / total16:.2f}x. With products and casts free, the fp32 '
                  f'step could be at most {total32 / max(r32, 1e-9):.2f}x faster: the rest '
                  '(optimizer, element-wise work, random masks, indexing) does not depend '
                  'on the precision of the products.']
    return '\n'.join(lines)

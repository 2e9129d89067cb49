"""One measurement for ``tools/benchmarks/bench_training_speed.py``, in a fresh
interpreter: ``python speed_worker.py JOB_JSON`` with ``PYTHONPATH`` and the working
directory set to the checkout being measured (so it imports that checkout's vega_mm and
configs); prints one JSON line.  See ``speed_parts.py`` for why this is not in the
package."""
import json
import sys
import time

from speed_parts import PeakRSS, build, dialogues, infer, model_cfg, train_steps, PHASES


def measure(job: dict) -> dict:
    """Train and inference speed of one config on one dialogue shape, per precision.

    ``clock='cpu'`` counts the main thread's CPU time (the work done rather than the share
    of a shared CPU; meaningful with one thread).  The precisions' models are built side
    by side and run in alternation on ``rounds`` interleaved parts of the batches, the
    order reversed every other part, so that drifting load hits them alike.  ``memory``:
    the peak memory of each precision alone on the two largest batches instead."""
    import torch
    from mmengine.registry import init_default_scope
    now = time.thread_time if job['clock'] == 'cpu' else time.perf_counter
    init_default_scope('vega_mm')
    cfg = model_cfg(job['config'], job['cfg_options'])
    batches = dialogues(cfg.model, *job['shape'], job['batch'])
    warmup = dialogues(cfg.model, job['batch'], 4, 4, job['batch'], seed=1)[0]
    precisions = job['precisions']
    # building an optimizer wrapper imports the scope's registry (about 140 MB of
    # libraries that are not the run's memory): before measuring
    build(cfg, 'fp32')
    if job['memory']:
        def padded(b):
            lengths = [len(s.gt_label) for s in b['data_samples']]
            return len(lengths) * max(lengths)
        batches = sorted(batches, key=padded, reverse=True)[:2]
        results = {}
        for precision in precisions:
            with PeakRSS() as peak:
                model, optim, autocast = build(cfg, precision)
                train_steps(model, optim, [warmup] + batches, autocast, now)
                infer(model, autocast, [warmup] + batches, now)
            results[precision] = dict(peak_mb=peak.peak - peak.base)
            del model, optim
        return dict(results=results)
    arms = {p: build(cfg, p, job.get('compile', False)) for p in precisions}
    first = {}
    for p, (model, optim, autocast) in arms.items():  # warm-up (and compile)
        start = time.perf_counter()
        train_steps(model, optim, [warmup], autocast, now)
        infer(model, autocast, [warmup], now)
        first[p] = time.perf_counter() - start
    utterances = sum(len(s.gt_label) for b in batches for s in b['data_samples'])
    times = {p: dict.fromkeys(PHASES, 0.0) for p in precisions}
    infer_s = dict.fromkeys(precisions, 0.0)
    for r in range(min(job['rounds'], len(batches))):
        for p in (precisions if r % 2 == 0 else precisions[::-1]):
            model, optim, autocast = arms[p]
            chunk = batches[r::job['rounds']]
            for phase, seconds in train_steps(model, optim, chunk, autocast, now,
                                              warmup=False).items():
                times[p][phase] += seconds
            infer_s[p] += infer(model, autocast, chunk, now)
    results = {}
    for p in precisions:
        train = sum(times[p].values())
        results[p] = dict(train=utterances / train, infer=utterances / infer_s[p],
                          first_s=first[p],
                          split={k: v / train for k, v in times[p].items()})
    import vega_mm
    return dict(results=results, utterances=utterances, package=vega_mm.__file__,
                threads=torch.get_num_threads(),
                parameters=sum(q.numel() for q in arms[precisions[0]][0].parameters()))


def profile(job: dict, top: int = 12) -> dict:
    """Self CPU time per operator over ``job['profile']`` training steps (after one
    warm-up step) per precision, with torch.profiler: where a step's time goes."""
    from mmengine.registry import init_default_scope
    from torch.profiler import ProfilerActivity, profile as torch_profile
    init_default_scope('vega_mm')
    cfg = model_cfg(job['config'], job['cfg_options'])
    batches = dialogues(cfg.model, *job['shape'], job['batch'])[:job['profile'] + 1]
    out = {}
    for precision in job['precisions']:
        model, optim, autocast = build(cfg, precision)
        train_steps(model, optim, batches[:1], autocast, time.perf_counter)
        with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
            train_steps(model, optim, batches[1:], autocast, time.perf_counter,
                        warmup=False)
        events = sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)
        out[precision] = dict(
            steps=len(batches) - 1,
            total_ms=sum(e.self_cpu_time_total for e in events) / 1e3,
            ops={e.key: (e.self_cpu_time_total / 1e3, e.count) for e in events},
            top=[(e.key, e.self_cpu_time_total / 1e3, e.count) for e in events[:top]])
        del model, optim
    return out


def main() -> None:
    import torch
    job = json.loads(sys.argv[1])
    torch.set_num_threads(job['threads'])
    print(json.dumps(profile(job) if job.get('profile') else measure(job)))


if __name__ == '__main__':
    main()

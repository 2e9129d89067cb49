"""Timing loops and latency statistics of the benchmark scripts (``tools/benchmarks``).

Numbers depend on the machine and its load: they are printed by benchmarks, never
asserted by tests.
"""
import statistics
import time
from typing import Callable, Dict, List, Sequence

import numpy as np
import torch

__all__ = ['training_step_times', 'latency_summary']


def training_step_times(loss_fn: Callable[[], torch.Tensor],
                        optimizer: torch.optim.Optimizer, steps: int,
                        warmup: int = 1) -> List[float]:
    """Seconds of each of ``steps`` training steps (``zero_grad``, ``loss_fn()``,
    backward, ``optimizer.step()``), after ``warmup`` untimed ones."""
    if steps < 1 or warmup < 0:
        raise ValueError(f'training_step_times: steps must be >= 1 and warmup >= 0, got '
                         f'steps={steps}, warmup={warmup}')
    times = []
    for i in range(steps + warmup):
        start = time.perf_counter()
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return times


def latency_summary(values: Sequence[float]) -> Dict[str, float]:
    """``median``, ``p95`` (numpy's linear percentile) and ``max`` of delays in
    seconds."""
    if not len(values):
        raise ValueError('latency_summary: no values')
    arr = np.asarray(values, dtype=float)
    return dict(median=float(statistics.median(arr.tolist())),
                p95=float(np.percentile(arr, 95)), max=float(arr.max()))

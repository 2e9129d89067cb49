"""The timing loop and latency statistics of the benchmark scripts."""
import numpy as np
import pytest
import torch

from vega_mm.benchmarking import latency_summary, training_step_times


def test_training_step_times_times_each_step_after_the_warmup():
    w = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([w], lr=0.1)
    calls = []

    def loss():
        calls.append(1)
        return (w ** 2).sum()

    times = training_step_times(loss, opt, steps=3, warmup=2)
    assert len(times) == 3 and len(calls) == 5 and all(t > 0 for t in times)
    # five SGD steps on w^2: w <- 0.8 w each time
    assert torch.allclose(w.detach(), torch.full((3, ), 0.8 ** 5))
    with pytest.raises(ValueError, match='steps must be >= 1'):
        training_step_times(loss, opt, steps=0)


def test_latency_summary_is_median_p95_and_max():
    values = [0.5, 2.0, 1.0, 4.0, 3.0]
    s = latency_summary(values)
    assert s == dict(median=2.0, p95=float(np.percentile(values, 95)), max=4.0)
    assert s['p95'] == pytest.approx(3.8)
    with pytest.raises(ValueError, match='no values'):
        latency_summary([])

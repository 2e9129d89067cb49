"""The recording latency benchmark's live clock (tools/benchmarks/bench_recording_latency.py):
queueing behind slow chunks is counted, the wait for the next chunk is not."""
import pytest

from tests.test_tools.common import load_tool


def test_delays_count_the_queue_behind_a_slow_chunk():
    bench = load_tool('tools/benchmarks/bench_recording_latency.py')
    # 0.5 s chunks arriving at 0.5, 1.0, 1.5, 2.0, 2.5 s; the end of the input (last
    # entry) comes with the last chunk
    costs = [0.1, 2.0, 0.1, 0.1, 0.1, 0.3]
    closed = [0, 1, 0, 1, 0, 1]
    delays = bench.live_delays(costs, closed, 0.5)
    # chunk 1: 1.0 -> 3.0; chunk 2: 3.0 -> 3.1; chunk 3 (arrived at 2.0): 3.1 -> 3.2;
    # chunk 4 (2.5): 3.2 -> 3.3; the flush (2.5): 3.3 -> 3.6
    assert delays == pytest.approx([2.0, 1.2, 1.1])
    # a fast machine: each delay is the closing chunk's own cost
    assert bench.live_delays([0.01, 0.2, 0.01], [0, 1, 0], 0.5) == pytest.approx([0.2])

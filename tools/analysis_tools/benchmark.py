"""Moved: the multi-seed benchmark is ``tools/multi_seed.py`` (this is not a speed benchmark)."""
import shlex
import sys

if __name__ == '__main__':
    sys.exit('tools/analysis_tools/benchmark.py has moved; run:\n'
             f'    python tools/multi_seed.py {shlex.join(sys.argv[1:]) or "CONFIG [CONFIG ...]"}\n'
             '(it trains configs over seeds; for inference speed see '
             'tools/benchmarks/bench_live_inference.py)')

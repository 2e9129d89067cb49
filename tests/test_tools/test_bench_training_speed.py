"""The training-speed benchmark's report parts (tools/benchmarks/bench_training_speed.py):
the CPU line, the product table, the profile table and the option checks (no timing is
asserted: the numbers depend on the machine)."""
import sys

import pytest

from tests.test_tools.common import load_tool


@pytest.fixture(scope='module')
def bench():
    return load_tool('tools/benchmarks/bench_training_speed.py')


def test_cpu_line_and_product_table(bench):
    assert 'bf16 units:' in bench.cpu_model()
    table = bench.matmul_rates(1, rows=(8, ), seconds=0.01).splitlines()
    assert table[0].startswith('| product | N | fp32 GFLOP/s | bf16 GFLOP/s')
    rows = table[2:]
    assert len(rows) == len(bench.PRODUCTS)
    for row, name in zip(rows, bench.PRODUCTS):
        cells = [c.strip() for c in row.strip('|').split('|')]
        assert cells[0] == name and cells[1] == '8'
        assert float(cells[2]) > 0 and float(cells[3]) > 0


def test_profile_of_two_steps(bench):
    """The profile job on a tiny config: top operators with their self time per
    precision, printed as a table."""
    profiles = bench.profile_steps(
        'configs/vega/vega_synthetic.py', (27, 2, 4), ['fp32', 'bf16'],
        cfg_options={'model.backbone.hidden_dim': 32, 'model.head.vega_head.anchor_bank.dim':
                     8}, steps=2, top=5)
    assert set(profiles) == {'fp32', 'bf16'}
    for prof in profiles.values():
        assert prof['steps'] == 2 and len(prof['top']) == 5
        assert all(ms >= 0 and calls > 0 for _, ms, calls in prof['top'])
    text = bench.profile_table(profiles)
    assert 'fp32:' in text and 'bf16:' in text and '| op | self CPU ms |' in text


@pytest.mark.parametrize('argv, message', [
    (['--env', 'NOVALUE'], "--env 'NOVALUE': expected KEY=VALUE"),
    (['--rounds', '0'], '--rounds must be at least 1'),
    (['--profile-steps', '-1'], '--profile-steps must be 0 or more'),
])
def test_bad_options_are_refused_before_any_work(bench, monkeypatch, argv, message):
    monkeypatch.setattr(sys, 'argv', ['bench_training_speed.py', *argv])
    with pytest.raises(SystemExit, match=message):
        bench.main()

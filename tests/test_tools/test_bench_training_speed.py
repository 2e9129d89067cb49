"""The training-speed benchmark (tools/benchmarks/bench_training_speed.py, its worker and
vega_mm.benchmarking.training_speed): the CPU line, the product table, the profile and its
summary, a whole tiny run and the option checks.  No timing is asserted: the numbers
depend on the machine."""
import pytest

from tests.test_tools.common import REPO, load_tool
from vega_mm.benchmarking import training_speed as ts

TINY_OPTIONS = {'model.backbone.hidden_dim': 32, 'model.head.vega_head.anchor_bank.dim': 8}


@pytest.fixture(scope='module')
def bench():
    return load_tool('tools/benchmarks/bench_training_speed.py')


def test_cpu_line_and_product_table():
    assert 'bf16 units:' in ts.cpu_model()
    table = ts.matmul_rates(1, rows=(8, ), seconds=0.01).splitlines()
    assert table[0].startswith('| product | N | fp32 GFLOP/s | bf16 GFLOP/s')
    rows = table[2:]
    assert len(rows) == len(ts.PRODUCTS)
    for row, name in zip(rows, ts.PRODUCTS):
        cells = [c.strip() for c in row.strip('|').split('|')]
        assert cells[0] == name and cells[1] == '8'
        assert float(cells[2]) > 0 and float(cells[3]) > 0


def test_profile_of_two_steps(monkeypatch):
    """The worker's profile job on a tiny config: every operator's self time per
    precision, the products among them, printed as tables."""
    monkeypatch.syspath_prepend(str(REPO / 'tools' / 'benchmarks' / 'speed'))
    monkeypatch.chdir(REPO)
    worker = load_tool('tools/benchmarks/speed/speed_worker.py')
    profiles = worker.profile(dict(
        config='configs/vega/vega_synthetic.py', shape=(27, 2, 4), batch=9,
        precisions=['fp32', 'bf16'], cfg_options=TINY_OPTIONS, profile=2), top=5)
    assert set(profiles) == {'fp32', 'bf16'}
    for prof in profiles.values():
        assert prof['steps'] == 2 and len(prof['top']) == 5
        assert all(ms >= 0 and calls > 0 for _, ms, calls in prof['top'])
        assert any(op in prof['ops'] for op in ts.PRODUCT_OPS)
        assert sum(ms for ms, _ in prof['ops'].values()) == pytest.approx(prof['total_ms'])
    text = ts.profile_table(profiles)
    assert 'fp32:' in text and 'bf16:' in text and '| op | self CPU ms |' in text
    assert 'With products and casts free' in text


def test_profile_summary_splits_products_casts_and_the_rest():
    def prof(total, ops):
        return dict(steps=1, total_ms=total, top=[], ops={k: (v, 1) for k, v in ops.items()})
    text = ts.profile_table({
        'fp32': prof(100.0, {'aten::bmm': 50.0, 'aten::mm': 10.0, 'aten::copy_': 1.0,
                             'aten::_fused_adamw_': 39.0}),
        'bf16': prof(80.0, {'aten::bmm': 20.0, 'aten::mm': 10.0, 'aten::copy_': 11.0,
                            'aten::_fused_adamw_': 39.0})})
    assert '| fp32 | 60 | 1 | 39 |' in text and '| bf16 | 30 | 11 | 39 |' in text
    # products 60 -> 30 ms: 2.0x; step 100 -> 80: 1.25x; bound 100 / 39 = 2.56x
    assert 'products 2.0x faster; the step 1.25x' in text
    assert 'at most 2.56x faster' in text


def test_a_tiny_run_prints_every_table(bench, capsys):
    """The whole benchmark on a tiny model: the speed and memory workers and the product
    table (the profile job is tested in-process above)."""
    bench.main(['--config', 'configs/vega/vega_synthetic.py', '--shapes', 'meld',
                '--max-dialogues', '18', '--threads', '1', '--rounds', '1',
                '--profile-steps', '0', '--cfg-options',
                *[f'{k}={v}' for k, v in TINY_OPTIONS.items()]])
    out = capsys.readouterr().out
    assert '[1/1] ours meld: fp32 train' in out and 'bf16 train' in out
    row = next(ln for ln in out.splitlines() if ln.startswith('| meld | bf16 |'))
    cells = [c.strip() for c in row.strip('|').split('|')]
    assert float(cells[2]) > 0 and float(cells[3]) > 0 and float(cells[6]) > 0
    assert "The backbone's matrix products" in out
    assert 'Where a training step of this checkout goes' not in out  # --profile-steps 0


@pytest.mark.parametrize('argv, message', [
    (['--env', 'NOVALUE'], "--env 'NOVALUE': expected KEY=VALUE"),
    (['--rounds', '0'], '--rounds must be at least 1'),
    (['--profile-steps', '-1'], '--profile-steps must be 0 or more'),
    (['--clock', 'cpu'], '--clock cpu counts the main thread only'),
])
def test_bad_options_are_refused_before_any_work(bench, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        bench.main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err

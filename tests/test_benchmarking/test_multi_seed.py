"""The multi-seed runner's package parts: job planning, reuse of finished runs, the
per-run breakdown and the table (tools/multi_seed.py end to end is in
tests/test_tools/test_multi_seed_tool.py)."""
import json

import pytest

from tests.test_tools.common import REPO, write_tiny_config
from vega_mm.benchmarking import (BenchmarkEntry, benchmark_table, config_logistic_regression,
                                  config_utterance_arrays, fit_logistic_regression,
                                  config_digest, parse_cfg_options, plan_jobs,
                                  run_benchmark, run_breakdown, run_dir, train_run)


def test_plan_jobs_never_oversubscribes():
    assert plan_jobs(None, pending=12, cores=2) == (2, 1)
    assert plan_jobs(8, pending=12, cores=4) == (4, 1)
    assert plan_jobs(2, pending=12, cores=16) == (2, 8)
    assert plan_jobs(None, pending=1, cores=16) == (1, 16)
    assert plan_jobs(None, pending=0, cores=4) == (1, 4)
    with pytest.raises(ValueError, match='jobs must be >= 1'):
        plan_jobs(0, pending=3, cores=2)


def _finished(work_dir, record, **extra):
    work_dir.mkdir(parents=True)
    (work_dir / 'results.json').write_text(json.dumps(dict(
        best_checkpoint=str(work_dir / 'best_erc_weighted_f1_epoch_7.pth'),
        val={'erc/accuracy': 60.0, 'erc/weighted_f1': 58.0, 'erc/macro_f1': 40.0,
             'erc/f1_joy': 70.0, 'erc/weighted_f1_fused': 58.0, 'erc/weighted_f1_text': 50.0},
        test={'erc/accuracy': 55.0, 'erc/weighted_f1': 54.0, 'erc/macro_f1': 38.0,
              'erc/f1_joy': 66.0, 'erc/weighted_f1_fused': 54.0},
        benchmark=record, **extra)))


def test_finished_run_is_reused_only_with_the_same_settings(tmp_path):
    cfg = str(REPO / 'configs' / 'vega' / 'vega_synthetic.py')
    wd = tmp_path / 'run'
    record = dict(config=cfg, config_digest=config_digest(cfg), seed=1,
                  cfg_options=['train_cfg.max_epochs=2'])
    _finished(wd, record, seconds=12.0)
    # No training script exists: reuse must not start one.
    res = train_run(cfg, 1, str(wd), str(tmp_path / 'missing.py'), ['train_cfg.max_epochs=2'])
    assert res['seconds'] == 12.0 and res['test']['erc/accuracy'] == 55.0
    with pytest.raises(ValueError, match=r"results.json: this finished run does not match "
                       r"the benchmark: seed 1 \(now 2\)"):
        train_run(cfg, 2, str(wd), str(tmp_path / 'missing.py'), ['train_cfg.max_epochs=2'])
    with pytest.raises(ValueError, match='--rerun'):
        train_run(cfg, 1, str(wd), str(tmp_path / 'missing.py'), [])
    # A rerun that fails leaves no stale results behind.
    with pytest.raises(RuntimeError, match='training failed'):
        train_run(cfg, 1, str(wd), str(tmp_path / 'missing.py'), [], rerun=True)
    assert not (wd / 'results.json').exists()


def test_breakdown_and_table(tmp_path):
    cfg = 'configs/vega/vega_meld_text.py'
    runs = {}
    for seed, shift in ((0, 0.0), (1, 2.0)):
        wd = tmp_path / str(seed)
        _finished(wd, {}, seconds=60.0 * (seed + 1))
        res = json.loads((wd / 'results.json').read_text())
        res['test']['erc/weighted_f1'] += shift
        runs[str(seed)] = res
    out = run_breakdown(runs['0'])
    assert out['best_epoch'] == 7
    assert out['per_class_f1'] == dict(val=dict(joy=70.0), test=dict(joy=66.0))
    assert out['per_branch_f1']['val'] == dict(fused=58.0, text=50.0)
    report = dict(seeds=[0, 1], rows=[dict(name='vega', config=cfg, runs=runs)],
                  baseline=dict(name='logistic regression (no context)', seconds=6.0,
                                val=dict(accuracy=1.0, weighted_f1=2.0, macro_f1=3.0),
                                test=dict(accuracy=4.0, weighted_f1=5.0, macro_f1=6.0)))
    table = benchmark_table(report, 'title').splitlines()
    assert table[0] == 'title'
    assert table[2].startswith('| model | val accuracy | val weighted f1 | val macro f1 | '
                               'test accuracy | test weighted f1 |')
    # test weighted F1 54 and 56: mean 55, sample std 1.41; time 1 and 2 min: 1.5
    assert table[4] == ('| vega (vega_meld_text.py) | 60.00 +- 0.00 | 58.00 +- 0.00 | '
                        '40.00 +- 0.00 | 55.00 +- 0.00 | 55.00 +- 1.41 | 38.00 +- 0.00 | '
                        '7, 7 | 1.5 min |')
    assert table[5] == ('| logistic regression (no context) | 1.00 | 2.00 | 3.00 | 4.00 | '
                        '5.00 | 6.00 | | 0.1 min |')


def test_entry_names_and_run_dirs():
    assert BenchmarkEntry('configs/sdt/sdt_synthetic.py').label == 'sdt_synthetic'
    assert BenchmarkEntry('x.py', 'ablation').label == 'ablation'
    assert run_dir('wd', 'sdt', 3).endswith('wd/sdt/seed3')
    assert parse_cfg_options(['a.b=1', 'c=[1,2]']) == {'a.b': 1, 'c': [1, 2]}


def test_logistic_regression_on_a_config(tmp_path):
    cfg = str(write_tiny_config(tmp_path))
    x, y, classes = config_utterance_arrays(cfg, 'val')
    # the synthetic data's three modalities, concatenated: 100 + 60 + 40
    assert x.shape == (len(y), 200) and len(classes) == 6
    opts = {'modalities': ('text', )}
    x, _, _ = config_utterance_arrays(cfg, 'val', opts)
    assert x.shape[1] == 100
    res = config_logistic_regression(cfg, opts, grid=(0.01, 1.0))
    assert res['C'] in (0.01, 1.0) and res['class_weight'] in (None, 'balanced')
    assert set(res['test']) == {'accuracy', 'weighted_f1', 'macro_f1'}


def test_fit_logistic_regression_names_a_missing_split():
    with pytest.raises(KeyError, match=r"no \['test'\] split"):
        fit_logistic_regression({'train': None, 'val': None}, 3)


def test_results_and_benchmark_files_are_never_left_half_written(tmp_path):
    """A write that fails part-way (here: a value JSON cannot hold) keeps the old file
    whole, for the run's results and for the benchmark's report."""
    import json

    from vega_mm.apis.results import read_run_results, results_path, update_run_results
    from vega_mm.benchmarking import save_benchmark
    results = dict(best_checkpoint='best.pth', val={'erc/accuracy': 50.0}, test={})
    with open(results_path(str(tmp_path)), 'w') as f:
        json.dump(results, f)
    with pytest.raises(TypeError):
        update_run_results(str(tmp_path), seconds=object())
    assert read_run_results(str(tmp_path)) == results
    report = dict(seeds=[0], rows=[])
    md, js = save_benchmark(report, '| table |', str(tmp_path / 'out'))
    before, table_before = open(js).read(), open(md).read()
    with pytest.raises(TypeError):
        save_benchmark(dict(report, extra=object()), '| other |', str(tmp_path / 'out'))
    assert open(js).read() == before and json.loads(before)['table'] == '| table |'
    assert open(md).read() == table_before
    assert [p.name for p in (tmp_path / 'out').iterdir() if p.name.startswith('.')] == []


def test_a_finished_run_of_an_edited_config_is_not_reused(tmp_path):
    """The record holds the config's content, not only its path: editing the file, or a
    base file it inherits, makes the finished run stale."""
    base = tmp_path / 'base.py'
    base.write_text('lr = 0.1\n')
    cfg = tmp_path / 'cfg.py'
    cfg.write_text("_base_ = ['base.py']\nepochs = 3\n")
    digest = config_digest(str(cfg))
    cfg.write_text("_base_ = ['base.py']\n\n\nepochs = 3  # a comment\n")
    assert config_digest(str(cfg)) == digest  # layout is not content
    wd = tmp_path / 'run'
    _finished(wd, dict(config=str(cfg), config_digest=digest, seed=0, cfg_options=[]))
    assert train_run(str(cfg), 0, str(wd), str(tmp_path / 'missing.py'))['seconds'] is None
    for path, text in ((base, 'lr = 0.2\n'), (cfg, "_base_ = ['base.py']\nepochs = 4\n")):
        old = path.read_text()
        path.write_text(text)
        with pytest.raises(ValueError, match=r'config file \(or a base file it inherits\) '
                           r'was edited after this run.*--rerun'):
            train_run(str(cfg), 0, str(wd), str(tmp_path / 'missing.py'))
        path.write_text(old)


def test_repeated_seeds_and_unreadable_configs_are_refused_before_any_run(tmp_path):
    cfg = str(REPO / 'configs' / 'vega' / 'vega_synthetic.py')
    missing = str(tmp_path / 'missing.py')  # a run would fail: none may start
    with pytest.raises(ValueError, match=r'seeds \[0, 0, 1\] repeat \[0\]'):
        run_benchmark([BenchmarkEntry(cfg)], [0, 0, 1], str(tmp_path), missing, log=print)
    with pytest.raises(ValueError, match='no seeds'):
        run_benchmark([BenchmarkEntry(cfg)], [], str(tmp_path), missing, log=print)
    with pytest.raises(ValueError, match=r'nope\.py: no such config file'):
        run_benchmark([BenchmarkEntry(cfg), BenchmarkEntry(str(tmp_path / 'nope.py'))], [0],
                      str(tmp_path), missing, log=print)
    broken = tmp_path / 'broken.py'
    broken.write_text('model = dict(\n')
    with pytest.raises(ValueError, match=r'broken\.py: cannot read the config'):
        run_benchmark([BenchmarkEntry(str(broken))], [0], str(tmp_path), missing, log=print)
    assert not (tmp_path / 'vega_synthetic').exists()

"""tools/multi_seed.py end to end: several configs and seeds on tiny synthetic data, the
table and JSON it writes, reuse of finished runs, a failing run; and the old path
(tools/analysis_tools/benchmark.py), which only points to it."""
import json

import pytest

from tests.test_tools.common import REPO, run_tool

TOOL = str(REPO / 'tools' / 'multi_seed.py')
OLD_TOOL = str(REPO / 'tools' / 'analysis_tools' / 'benchmark.py')
# Tiny synthetic data and models: seconds per run.
SMALL = ['train_cfg.max_epochs=2', 'default_hooks.logger.interval=1',
         'model.backbone.hidden_dim=16',
         *[f'{dl}_dataloader.dataset.num_dialogues=[18,8,8]' for dl in ('train', 'val',
                                                                        'test')]]


@pytest.mark.timeout(600)
def test_benchmark_table_json_and_reuse(tmp_path):
    configs = [str(REPO / 'configs' / 'sdt' / 'sdt_synthetic.py'),
               str(REPO / 'configs' / 'baselines' / 'mlp_synthetic.py')]
    args = [TOOL, *configs, '--seeds', '0', '1', '--jobs', '2', '--work-dir',
            str(tmp_path), '--baseline', 'logreg', '--cfg-options', *SMALL]
    out = run_tool(args).stdout
    assert '4 runs (4 to train)' in out
    table = (tmp_path / 'benchmark.md').read_text()
    assert table.strip() in out
    rows = [line for line in table.splitlines() if line.startswith('| ')]
    assert [r.split(' | ')[0] for r in rows] == [
        '| model', '| sdt_synthetic', '| mlp_synthetic', '| logistic regression (no context)']
    report = json.loads((tmp_path / 'benchmark.json').read_text())
    for row in report['rows']:
        for seed in ('0', '1'):
            res = json.loads((tmp_path / row['name'] / f'seed{seed}' /
                              'results.json').read_text())
            assert row['runs'][seed]['test'] == res['test']
            part = row['breakdown'][seed]
            # every class and every branch (fused + the three modalities), per split
            assert len(part['per_class_f1']['test']) == 6
            assert set(part['per_branch_f1']['val']) == {'fused', 'text', 'audio', 'visual'}
            assert part['per_class_f1']['test']['happy'] == res['test']['erc/f1_happy']
            assert part['best_epoch'] in (1, 2)
        # the table's mean is the runs' mean
        wf1 = [row['runs'][s]['test']['erc/weighted_f1'] for s in ('0', '1')]
        cells = next(r for r in rows if r.startswith(f'| {row["name"]} ')).split(' | ')
        assert cells[5].startswith(f'{sum(wf1) / 2:.2f} +- ')
    assert report['baseline']['C'] > 0
    # Again: everything is reused, nothing trains.
    out = run_tool(args).stdout
    assert '4 runs (0 to train)' in out
    assert json.loads((tmp_path / 'benchmark.json').read_text())['rows'] == report['rows']


@pytest.mark.timeout(300)
def test_a_failing_run_fails_the_benchmark(tmp_path):
    args = [TOOL, str(REPO / 'configs' / 'baselines' / 'bclstm_synthetic.py'), '--seeds', '0',
            '--work-dir', str(tmp_path), '--cfg-options', *SMALL, 'model.backbone.hidden_dim=15']
    with pytest.raises(AssertionError, match=r'failed \(1\)[\s\S]*1 of 1 runs failed'):
        run_tool(args)
    assert 'must be even' in (tmp_path / 'bclstm_synthetic' / 'seed0' / 'stdout.log').read_text()


def test_the_old_path_names_the_new_command_and_fails(tmp_path):
    """OpenMMLab users read tools/analysis_tools/benchmark.py as the speed benchmark: the
    old path trains nothing, exits non-zero and prints the command to run instead."""
    config = str(REPO / 'configs' / 'sdt' / 'sdt_synthetic.py')
    with pytest.raises(AssertionError) as info:
        run_tool([OLD_TOOL, config, '--seeds', '0', '--work-dir', str(tmp_path)])
    assert f'python tools/multi_seed.py {config} --seeds 0 --work-dir {tmp_path}' \
        in str(info.value)
    assert 'failed (1)' in str(info.value)
    assert not any(tmp_path.iterdir())

"""tools/analysis_tools: each tool on the shared tiny run (``tiny_run``); numbers equal the
metric's."""
import csv
import json

import pytest

from tests.test_tools.common import REPO, run_tool, val_history

TOOLS = REPO / 'tools' / 'analysis_tools'
CLASSES = ['happy', 'sad', 'neutral', 'anger', 'excited', 'frustration']


def test_confusion_matrix_from_checkpoint_and_from_predictions(tiny_run, tmp_path):
    best = tiny_run['results']['best_checkpoint']
    out = tmp_path / 'cm'
    run_tool([str(TOOLS / 'confusion_matrix.py'), str(tiny_run['cfg']), best, '--split', 'val',
              '--out-dir', str(out)])
    summary = json.loads((out / 'confusion_matrix.json').read_text())
    metrics = tiny_run['results']['val']  # the best checkpoint's val metrics after training
    assert summary['classes'] == CLASSES
    counts = summary['counts']
    total = sum(map(sum, counts))
    assert summary['num_utterances'] == total
    # from the counts alone: accuracy and each class's F1 equal the metric's
    assert 100.0 * sum(counts[i][i] for i in range(6)) / total == \
        pytest.approx(metrics['erc/accuracy'], abs=1e-6)
    for i, name in enumerate(CLASSES):
        tp = counts[i][i]
        denom = sum(counts[i]) + sum(row[i] for row in counts)
        f1 = 100.0 * 2 * tp / denom if denom else 0.0
        assert f1 == pytest.approx(metrics[f'erc/f1_{name}'], abs=1e-6), name
    assert (out / 'confusion_matrix.png').stat().st_size > 10000
    rows = list(csv.reader(open(out / 'confusion_matrix.csv')))
    assert rows[0][1:] == CLASSES and [int(v) for v in rows[1][1:]] == counts[0]
    # the same matrix from the predictions file that the first call wrote
    again = tmp_path / 'again'
    run_tool([str(TOOLS / 'confusion_matrix.py'), str(tiny_run['cfg']),
              str(out / 'predictions.json'), '--out-dir', str(again)])
    assert json.loads((again / 'confusion_matrix.json').read_text())['counts'] == counts


def test_analyze_logs_plots_several_runs(tiny_run, tmp_path):
    log = sorted(tiny_run['work'].glob('*/vis_data/scalars.json'))[-1]
    png = tmp_path / 'curves.png'
    run_tool([str(TOOLS / 'analyze_logs.py'), 'plot_curve', str(log), str(tiny_run['work']),
              '--keys', 'loss', 'erc/weighted_f1', '--legend', 'one', 'two',
              '--out', str(png)])
    assert png.stat().st_size > 10000
    rows = list(csv.DictReader(open(tmp_path / 'curves.csv')))
    assert {r['run'] for r in rows} == {'one', 'two'}
    f1 = [float(r['y']) for r in rows if r['run'] == 'one' and r['key'] == 'erc/weighted_f1']
    assert f1 == pytest.approx([h['erc/weighted_f1'] for h in val_history(tiny_run['work'])])


def test_vis_anchor_space_scores_match_the_anchor_branch(tiny_run, tmp_path):
    best = tiny_run['results']['best_checkpoint']
    out = tmp_path / 'anchors'
    run_tool([str(TOOLS / 'vis_anchor_space.py'), str(tiny_run['cfg']), best,
              '--out-dir', str(out)])
    summary = json.loads((out / 'anchor_space.json').read_text())
    # nearest centre in the projected space = the fused anchor branch's prediction
    assert summary['nearest_centre']['weighted_f1'] == pytest.approx(
        tiny_run['results']['test']['erc/weighted_f1_anchor_fused'], abs=1e-6)
    points = summary['points']
    rows = list(csv.DictReader(open(out / 'anchor_space.csv')))
    assert len(rows) == points['utterances'] + points['centres'] + points['exemplars']
    assert points['centres'] == 6 and points['exemplars'] == 48  # 8 per class
    assert (out / 'anchor_space.png').stat().st_size > 10000


def test_get_flops_writes_counts_per_length(tiny_run, tmp_path):
    run_tool([str(TOOLS / 'get_flops.py'), str(tiny_run['cfg']), '--length', '4', '8',
              '--out-dir', str(tmp_path)])
    results = json.loads((tmp_path / 'flops.json').read_text())['results']
    assert [r['length'] for r in results] == [4, 8]
    assert results[0]['params'] == results[1]['params'] > 0
    assert results[1]['forward_flops'] > results[0]['forward_flops']
    assert (tmp_path / 'flops.png').stat().st_size > 10000

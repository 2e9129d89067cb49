"""Training curves from MMEngine scalar logs."""
import json

import numpy as np
import pytest

from vega_mm.analysis import (curve_points, find_scalar_logs, join_scalar_logs, load_scalar_log,
                              plot_curves, run_name)


def _log(tmp_path, epochs=(1, 2, 3), stamp='20260101_000000', loss=10.0):
    # 5 iterations per epoch, logged every 2 (the logger skips the last, partial one)
    rows = []
    for epoch in epochs:
        for inner in (2, 4):
            step = (epoch - 1) * 5 + inner
            rows.append(dict(lr=0.1, loss=loss / step, epoch=epoch, iter=step, step=step))
        rows.append({'erc/weighted_f1': loss * 2 * epoch, 'step': epoch})
    path = tmp_path / 'run1' / stamp / 'vis_data' / 'scalars.json'
    path.parent.mkdir(parents=True)
    path.write_text('\n'.join(json.dumps(r) for r in rows) + '\n')
    return path


def test_train_keys_in_fractional_epochs_and_val_keys_per_epoch(tmp_path):
    rows = load_scalar_log(str(_log(tmp_path)))
    loss = curve_points(rows, 'loss')
    np.testing.assert_allclose(loss['x'], [0.4, 0.8, 1.4, 1.8, 2.4, 2.8])
    assert loss['xlabel'] == 'epoch'
    f1 = curve_points(rows, 'erc/weighted_f1')
    assert f1['x'].tolist() == [1, 2, 3] and f1['y'].tolist() == [20, 40, 60]
    with pytest.raises(KeyError, match="'los' is not in the log; it has .*'loss'"):
        curve_points(rows, 'los')


def test_work_dir_resolves_to_its_log_and_names_the_run(tmp_path):
    path = _log(tmp_path)
    assert find_scalar_logs(str(tmp_path / 'run1')) == [str(path)]
    assert run_name(str(path)) == 'run1'
    with pytest.raises(FileNotFoundError, match='no \\*/vis_data/scalars.json'):
        find_scalar_logs(str(tmp_path))


def test_a_resumed_runs_logs_are_joined_and_the_later_log_wins(tmp_path):
    # the first start ran epochs 1-3 (epoch 3 interrupted after its validation); the
    # resumed start repeated epoch 3 and ran 4, with other numbers (loss=100)
    first = _log(tmp_path, epochs=(1, 2, 3), stamp='20260101_000000')
    second = _log(tmp_path, epochs=(3, 4), stamp='20260101_120000', loss=100.0)
    found = find_scalar_logs(str(tmp_path / 'run1'))
    assert found == [str(first), str(second)]
    rows = join_scalar_logs(found)
    loss = curve_points(rows, 'loss')
    np.testing.assert_allclose(loss['x'], [0.4, 0.8, 1.4, 1.8, 2.4, 2.8, 3.4, 3.8])
    np.testing.assert_allclose(loss['y'][:4], [10 / s for s in (2, 4, 7, 9)])
    np.testing.assert_allclose(loss['y'][4:], [100 / s for s in (12, 14, 17, 19)])
    f1 = curve_points(rows, 'erc/weighted_f1')
    assert f1['x'].tolist() == [1, 2, 3, 4] and f1['y'].tolist() == [20, 40, 600, 800]


def test_bad_line_is_named_and_figure_has_one_panel_per_key(tmp_path):
    bad = tmp_path / 'bad.json'
    bad.write_text('{"step": 1, "loss": 1}\nnot json\n')
    with pytest.raises(ValueError, match='bad.json, line 2'):
        load_scalar_log(str(bad))
    rows = load_scalar_log(str(_log(tmp_path)))
    fig = plot_curves({'a': rows, 'b': rows}, ['loss', 'erc/weighted_f1'])
    assert len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ['a', 'b']

"""tools/benchmarks/meld_text_benchmark.py on a small feature file the test builds."""
import json

import numpy as np
import pytest

from vega_mm.datasets import save_native

bench = pytest.importorskip('tools.benchmarks.meld_text_benchmark')

CLASSES = ('neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust', 'anger')
MELD_CLASS_WEIGHTS = (1.0, 3.934, 17.978, 6.423, 2.789, 17.828, 4.005)  # published


def _write_features(path, seed=0, noise=2.0, dim=384):
    """MELD-shaped text features (``dim``-d, 9 speakers) whose classes are linearly
    separable up to ``noise``."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(CLASSES), dim)) * 0.5
    dialogues, splits = [], {'train': [], 'val': [], 'test': []}
    for i in range(48):
        n = int(rng.integers(3, 9))
        labels = rng.integers(0, len(CLASSES), size=n)
        feats = centres[labels] + rng.normal(scale=noise / 20, size=(n, dim))
        did = f'dia{i}'
        dialogues.append(dict(dialogue_id=did, features=dict(text=feats.astype(np.float32)),
                              speakers=rng.integers(0, 9, size=n), labels=labels))
        splits['train' if i < 32 else 'val' if i < 40 else 'test'].append(did)
    save_native(str(path), dialogues, CLASSES, splits, num_speakers=9)
    return path


def test_logistic_regression_chooses_on_validation(tmp_path):
    path = _write_features(tmp_path / 'f.npz')
    res = bench.logistic_regression(str(path))
    assert res['C'] in (1e-4, 3e-4, 1e-3, 3e-3, 0.01, 0.03, 0.1, 0.3, 1.0)
    assert res['class_weight'] in (None, bench.config_class_weights())
    # Separable classes: the baseline must find them on the held-out splits.
    assert res['val']['accuracy'] > 90 and res['test']['accuracy'] > 90
    assert set(res['test']) == {'weighted_f1', 'accuracy', 'macro_f1'}
    # The configs' tempered weights are the square roots of MELD's published ones.
    np.testing.assert_allclose(np.square(bench.config_class_weights()),
                               MELD_CLASS_WEIGHTS, rtol=2e-3)


def test_mean_std():
    assert bench.mean_std([1.0, 2.0, 3.0]) == '2.00 +- 1.00'
    assert bench.mean_std([5.0]) == '5.00 +- 0.00'


@pytest.mark.timeout(600)
def test_benchmark_end_to_end_on_existing_features(tmp_path, capsys):
    data = tmp_path / 'data'
    data.mkdir()
    # 48-d instead of MiniLM's 384: the benchmark takes the width from the file
    _write_features(data / 'meld_minilm.npz', dim=48)
    args = ['--data-dir', str(data), '--work-dir', str(tmp_path / 'wd'), '--models', 'vega',
            'vega_nocontext', 'logreg', '--seeds', '0', '1', '--jobs', '2', '--cfg-options',
            'train_cfg.max_epochs=2', 'default_hooks.logger.interval=1',
            'model.neck.hidden_dim=32', 'model.head.in_channels=32',
            'model.vega_head.in_channels=32']
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    assert '| VEGA text-only (vega_meld_text.py) |' in out
    assert '| logistic regression (no context) |' in out
    report = json.loads((tmp_path / 'wd' / 'meld_minilm' / 'benchmark.json').read_text())
    runs = report['runs']
    assert set(runs) == {'vega/seed0', 'vega/seed1', 'vega_nocontext/seed0',
                         'vega_nocontext/seed1', 'logreg'}
    assert '| VEGA text-only without context (ablation, attention window 0) ' in out
    # The ablation is the VEGA config with the context removed, nothing else.
    from mmengine.config import Config
    wd = tmp_path / 'wd' / 'meld_minilm'
    cfgs = {m: Config.fromfile(str(wd / m / 'seed0' / 'vega_meld_text.py')).to_dict()
            for m in ('vega', 'vega_nocontext')}
    assert cfgs['vega']['model']['neck']['input_dims'] == dict(text=48)
    assert cfgs['vega_nocontext']['model']['neck'].pop('attention_window') == 0
    assert 'attention_window' not in cfgs['vega']['model']['neck']
    for c in cfgs.values():
        c.pop('work_dir', None)
    assert cfgs['vega'] == cfgs['vega_nocontext']
    for seed in (0, 1):
        test = runs[f'vega/seed{seed}']['test']
        assert 0 <= test['erc/weighted_f1'] <= 100
        assert 'epoch_' in runs[f'vega/seed{seed}']['best_checkpoint']
    # A second call reuses the finished runs instead of training again.
    seconds = runs['vega/seed0']['seconds']
    assert bench.main(args) == 0
    again = json.loads((tmp_path / 'wd' / 'meld_minilm' / 'benchmark.json').read_text())
    assert again['runs']['vega/seed0']['seconds'] == seconds
    assert again['runs']['vega/seed0']['test'] == runs['vega/seed0']['test']

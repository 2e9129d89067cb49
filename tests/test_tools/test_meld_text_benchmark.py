"""The MELD text benchmark: its package parts (context-free baseline, run results) and
tools/benchmarks/meld_text_benchmark.py end to end, on a small feature file the test builds."""
import json

import numpy as np
import pytest

from tests.test_tools.common import REPO, load_tool
from vega_mm.datasets import save_native
from vega_mm.apis.results import (collect_run_metrics, finished_run_results, mean_std,
                                  read_run_results, run_metric, update_run_results)
from vega_mm.benchmarking import (DEFAULT_C_GRID, baseline_scores, config_class_weights,
                                  logistic_regression_baseline, utterance_arrays)

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


def _benchmark_tool():
    return load_tool('tools/benchmarks/meld_text_benchmark.py')


def test_utterance_arrays_flatten_labelled_utterances(tmp_path):
    path = _write_features(tmp_path / 'f.npz', dim=8)
    x, y = utterance_arrays(str(path), 'train')
    assert x.shape == (len(y), 8) and y.min() >= 0
    with pytest.raises(KeyError, match="no 'audio' features"):
        utterance_arrays(str(path), 'train', modality='audio')


def test_logistic_regression_chooses_on_validation(tmp_path):
    path = _write_features(tmp_path / 'f.npz')
    weights = config_class_weights(str(REPO / 'configs' / 'vega' / 'vega_meld_text.py'))
    res = logistic_regression_baseline(str(path), class_weights=(None, weights))
    assert res['C'] in DEFAULT_C_GRID
    assert res['class_weight'] in (None, weights)
    # Separable classes: the baseline must find them on the held-out splits.
    assert res['val']['accuracy'] > 90 and res['test']['accuracy'] > 90
    assert set(res['test']) == {'weighted_f1', 'accuracy', 'macro_f1'}
    # The config's tempered weights are the square roots of MELD's published ones.
    np.testing.assert_allclose(np.square(weights), MELD_CLASS_WEIGHTS, rtol=2e-3)


def test_baseline_scores_are_percentages_of_labelled_utterances():
    y = np.array([0, 0, 1, 1, -1])
    pred = np.array([0, 1, 1, 1, 0])
    scores = baseline_scores(y, pred, num_classes=3)
    assert scores['accuracy'] == pytest.approx(75.0)
    # class 0: F1 2/3, class 1: F1 4/5; class 2 is absent and does not count
    assert scores['macro_f1'] == pytest.approx(100 * (2 / 3 + 4 / 5) / 2)
    assert scores['weighted_f1'] == pytest.approx(scores['macro_f1'])


def test_mean_std():
    assert mean_std([1.0, 2.0, 3.0]) == '2.00 +- 1.00'
    assert mean_std([5.0]) == '5.00 +- 0.00'
    with pytest.raises(ValueError):
        mean_std([])


def test_run_results_are_read_back_with_or_without_prefix(tmp_path):
    assert finished_run_results(str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match='has not finished'):
        read_run_results(str(tmp_path))
    (tmp_path / 'results.json').write_text(json.dumps(dict(
        best_checkpoint='epoch_2.pth', val={'erc/weighted_f1': 60.0},
        test={'erc/weighted_f1': 55.0, 'accuracy': 58.0})))
    res = finished_run_results(str(tmp_path))
    assert run_metric(res, 'val', 'weighted_f1') == 60.0
    assert run_metric(res, 'test', 'accuracy') == 58.0
    with pytest.raises(KeyError, match=r"no macro_f1 in the test results \['accuracy'"):
        run_metric(res, 'test', 'macro_f1')
    assert update_run_results(str(tmp_path), seconds=12.5)['seconds'] == 12.5
    assert read_run_results(str(tmp_path))['seconds'] == 12.5
    other = dict(test={'erc/weighted_f1': 57.0, 'erc/accuracy': 59.0})
    assert collect_run_metrics([res, other], 'test', ['weighted_f1', 'accuracy']) == dict(
        weighted_f1=[55.0, 57.0], accuracy=[58.0, 59.0])


@pytest.mark.timeout(600)
def test_benchmark_end_to_end_on_existing_features(tmp_path, capsys):
    data = tmp_path / 'data'
    data.mkdir()
    # 48-d instead of MiniLM's 384: the benchmark takes the width from the file
    _write_features(data / 'meld_minilm.npz', dim=48)
    args = ['--data-dir', str(data), '--work-dir', str(tmp_path / 'wd'), '--models', 'vega',
            'vega_nocontext', 'mlp', 'logreg', '--seeds', '0', '--jobs', '2',
            '--cfg-options', 'train_cfg.max_epochs=2', 'default_hooks.logger.interval=1',
            'model.backbone.hidden_dim=32']
    bench = _benchmark_tool()
    assert bench.main(args) == 0
    out = capsys.readouterr().out
    for row in ('| vega (vega_meld_text.py) |', '| mlp (mlp_meld_text.py) |',
                '| vega_nocontext (vega_meld_text.py) |',
                '| logistic regression (no context) |'):
        assert row in out
    wd = tmp_path / 'wd' / 'meld_minilm'
    report = json.loads((wd / 'benchmark.json').read_text())
    runs = {row['name']: row['runs']['0'] for row in report['rows']}
    assert set(runs) == {'vega', 'vega_nocontext', 'mlp'}
    assert report['baseline']['data_of'].endswith('vega_meld_text.py')
    # The ablation is the VEGA config with the context removed, nothing else.
    from mmengine.config import Config
    cfgs = {m: Config.fromfile(str(wd / m / 'seed0' / f'{c}.py')).to_dict()
            for m, c in (('vega', 'vega_meld_text'), ('vega_nocontext', 'vega_meld_text'),
                         ('mlp', 'mlp_meld_text'))}
    for c in cfgs.values():
        assert c['model']['backbone']['input_dims']['text'] == 48
        assert list(c['model']['modalities']) == ['text']
        assert c['train_dataloader']['dataset']['ann_file'] == str(data / 'meld_minilm.npz')
    assert cfgs['mlp']['model']['backbone']['type'] == 'UtteranceMLPBackbone'
    assert cfgs['vega_nocontext']['model']['backbone'].pop('attention_window') == 0
    assert 'attention_window' not in cfgs['vega']['model']['backbone']
    for c in cfgs.values():
        c.pop('work_dir', None)
    assert cfgs['vega'] == cfgs['vega_nocontext']
    for res in runs.values():
        assert 0 <= res['test']['erc/weighted_f1'] <= 100
        assert 'epoch_' in res['best_checkpoint']
    # A second call reuses the finished runs instead of training again.
    assert bench.main(args) == 0
    assert '(0 to train)' in capsys.readouterr().out
    again = json.loads((wd / 'benchmark.json').read_text())
    assert again['rows'][0]['runs']['0'] == report['rows'][0]['runs']['0']


def test_each_feature_variant_has_its_own_file_name():
    """Variants never share a feature file: the encoder, context, fine-tuning schedule
    and a non-default learning rate are in the name (the measured names unchanged)."""
    bench = _benchmark_tool()
    tag = lambda *a: bench.feature_tag(bench.parse_args(list(a)))  # noqa: E731
    assert tag() == 'minilm'
    assert tag('--text-model', 'mpnet', '--text-context', '3') == 'mpnet_ctx3'
    assert tag('--finetune-epochs', '6', '--finetune-patience', '2') == 'minilm_ft6p2'
    assert tag('--finetune-epochs', '6', '--finetune-patience', '2', '--text-context', '1') \
        == 'minilm_ctx1_ft6p2'
    assert tag('--finetune-epochs', '6', '--finetune-patience', '2',
               '--finetune-lr', '5e-5') == 'minilm_ft6p2lr5e-05'


@pytest.mark.parametrize('argv, message', [
    (['--jobs', '0'], '--jobs must be >= 1'),
    (['--text-context', '-2'], '--text-context must be >= 0'),
    (['--finetune-epochs', '-1'], '--finetune-epochs must be >= 0'),
    (['--finetune-lr', '5e-5'], 'only apply with --finetune-epochs'),
    (['--finetune-patience', '2'], 'only apply with --finetune-epochs'),
    (['--finetune-epochs', '2', '--finetune-patience', '0'], '--finetune-patience must be >= 1'),
    (['--finetune-epochs', '2', '--finetune-lr', '0'], '--finetune-lr must be > 0'),
    (['--seeds', '0', '0'], '--seeds must differ'),
])
def test_options_that_cannot_mean_anything_are_refused_before_any_work(argv, message,
                                                                       capsys):
    bench = _benchmark_tool()
    with pytest.raises(SystemExit) as exc:
        bench.parse_args(argv)
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_an_encoder_that_cannot_be_loaded_fails_in_one_line(tmp_path, capsys):
    """Not a traceback from inside transformers: the folder is named."""
    from tests.utils import write_meld_like_table
    bench = _benchmark_tool()
    meld = tmp_path / 'meld'
    meld.mkdir()
    write_meld_like_table(meld / 'train_sent_emo.csv', 12)
    write_meld_like_table(meld / 'dev_sent_emo.csv', 4, seed=1)
    with pytest.raises(SystemExit) as exc:
        bench.main(['--meld', str(meld), '--text-model', str(tmp_path / 'no_such_model'),
                    '--data-dir', str(tmp_path / 'data'), '--work-dir', str(tmp_path / 'wd')])
    assert 'feature extraction failed' in str(exc.value) and 'no such folder' in str(exc.value)
    assert not (tmp_path / 'data' / 'meld_no_such_model.parts').exists()

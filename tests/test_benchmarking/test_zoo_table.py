"""The zoo table's model columns: parameters and FLOPs per utterance from a config."""
import json

import pytest

from tests.test_benchmarking.test_multi_seed import _finished
from tests.test_tools.common import REPO
from vega_mm.benchmarking import benchmark_table, config_complexity

pytest.importorskip('torch_geometric')


def test_config_complexity_counts_the_configured_model():
    import torch
    from mmengine.config import Config

    from vega_mm.registry import MODELS
    from vega_mm.utils import apply_modalities
    cfg_file = str(REPO / 'configs' / 'dialoguegcn' / 'dialoguegcn_synthetic.py')
    opts = ['model.backbone.hidden_dim=16', 'model.backbone.context_dim=8']
    out = config_complexity(cfg_file, opts, length=6)
    cfg = Config.fromfile(cfg_file)
    cfg.model.backbone.update(hidden_dim=16, context_dim=8)
    apply_modalities(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert out['params'] == sum(p.numel() for p in model.parameters())
    # at least the LSTM's input products: 2 directions x 4 gates x D_in x D_e x 2 FLOPs
    assert out['flops_per_utterance'] >= 2 * 4 * 200 * 8 * 2
    with pytest.raises(ValueError, match='dialoguegcn_synthetic.py: cannot build'):
        config_complexity(cfg_file, ['model.backbone.window_past=-5'])


def test_table_with_model_columns(tmp_path):
    _finished(tmp_path / '0', {}, seconds=60.0)
    res = json.loads((tmp_path / '0' / 'results.json').read_text())
    report = dict(seeds=[0], rows=[dict(name='dialoguegcn', config='x/dialoguegcn.py',
                                        runs={'0': res})])
    lines = benchmark_table(report, '', dict(dialoguegcn=dict(
        params=1.5e6, flops_per_utterance=2.25e6))).splitlines()
    assert lines[0].endswith('| params | FLOPs / utt. | best epoch | time / run |')
    assert lines[2].endswith('| 1.50 M | 2.25 M | 7 | 1.0 min |')

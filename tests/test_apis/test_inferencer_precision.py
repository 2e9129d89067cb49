"""ConversationInferencer(precision='bf16') (``tools/infer.py --precision bf16``): the
model under bf16 autocast, fp32 results, the same predictions as fp32 within bf16
rounding; fp32 stays the default."""
import numpy as np
import pytest
import torch

from vega_mm.apis import ConversationInferencer
from vega_mm.datasets.formats import load_conversations


def test_bf16_predictions_match_fp32_within_rounding(text_model, feature_file, monkeypatch):
    cfg, ckpt = text_model
    test_split = load_conversations(feature_file).get_split('test')
    fp32 = ConversationInferencer(cfg, ckpt)
    assert fp32.precision == 'fp32'
    bf16 = ConversationInferencer(cfg, ckpt, precision='bf16')
    autocast_dtypes = []
    test_step = bf16.model.test_step

    def spy(data):
        autocast_dtypes.append(torch.is_autocast_enabled('cpu')
                               and torch.get_autocast_dtype('cpu'))
        return test_step(data)
    monkeypatch.setattr(bf16.model, 'test_step', spy)
    expected, actual = fp32(test_split, batch_size=2), bf16(test_split, batch_size=2)
    assert autocast_dtypes and set(autocast_dtypes) == {torch.bfloat16}
    assert len(actual) == len(expected) > 0
    probs = np.array([list(r['pred_scores'].values()) for r in actual])
    probs32 = np.array([list(r['pred_scores'].values()) for r in expected])
    np.testing.assert_allclose(probs, probs32, atol=3e-2)
    np.testing.assert_allclose(probs.sum(1), 1, atol=1e-5)  # fp32 softmax of the logits
    cos = np.array([list(r['anchor_similarity'].values()) for r in actual])
    cos32 = np.array([list(r['anchor_similarity'].values()) for r in expected])
    np.testing.assert_allclose(cos, cos32, atol=3e-2)
    margin = np.sort(probs32, 1)[:, -1] - np.sort(probs32, 1)[:, -2]
    for a, b, m in zip(actual, expected, margin):
        if m > 0.05:  # a clear winner stays the winner
            assert a['pred_label'] == b['pred_label']
    assert all(isinstance(v, float) for r in actual for v in r['pred_scores'].values())


def test_live_session_in_bf16(causal_model):
    cfg, ckpt = causal_model
    session = ConversationInferencer(cfg, ckpt, precision='bf16').stream()
    first = session.add('Ross', 'we were on a break!')
    second = session.add('Rachel', 'oh my god.')
    for r in (first, second):
        assert abs(sum(r['pred_scores'].values()) - 1) < 1e-5


def test_unknown_precision_is_refused(text_model):
    cfg, ckpt = text_model
    with pytest.raises(ValueError, match="precision must be one of.*'fp16'"):
        ConversationInferencer(cfg, ckpt, precision='fp16')


def test_infer_cli_precision_option(causal_model, transcripts, tmp_path, monkeypatch):
    """``tools/infer.py --precision bf16`` reaches the inferencer; predictions come out
    as with fp32, within bf16 rounding."""
    import json
    import sys

    from tests.test_tools.common import load_tool
    tool = load_tool('tools/infer.py')
    cfg, ckpt = causal_model
    config = str(tmp_path / 'model.py')
    cfg.dump(config)
    seen = []
    init = ConversationInferencer.__init__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get('precision'))
        init(self, *args, **kwargs)
    monkeypatch.setattr(ConversationInferencer, '__init__', spy)
    outs = {}
    for precision in ('fp32', 'bf16'):
        out = tmp_path / f'{precision}.jsonl'
        monkeypatch.setattr(sys, 'argv', ['infer.py', config, ckpt, str(transcripts['test']),
                                          '--out', str(out), '--precision', precision])
        tool.main()
        outs[precision] = [json.loads(line) for line in out.read_text().splitlines()]
    assert seen == ['fp32', 'bf16']
    assert len(outs['bf16']) == len(outs['fp32']) > 0
    np.testing.assert_allclose(
        [list(r['pred_scores'].values()) for r in outs['bf16']],
        [list(r['pred_scores'].values()) for r in outs['fp32']], atol=3e-2)

"""The baseline backbones (context-free MLP, bc-LSTM): the backbone contract, masking,
what sees context and what does not, and training inside ConversationClassifier."""
import pytest
import torch
from mmengine.config import Config

from tests.model_utils import DIMS, Padded, make_batch
from tests.test_tools.common import REPO
from vega_mm.registry import MODELS
from vega_mm.utils import apply_modalities

TYPES = ('UtteranceMLPBackbone', 'BcLSTMBackbone')


def _backbone(kind, modalities=('text', 'audio', 'visual'), hidden=16):
    torch.manual_seed(0)
    return Padded(MODELS.build(dict(type=kind, input_dims={m: DIMS[m] for m in modalities},
                                    hidden_dim=hidden, dropout=0.1, num_speakers=2))).eval()


def _inputs(batch=2, length=6, modalities=('text', 'audio', 'visual'), seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(batch, length, DIMS[m], generator=gen) for m in modalities}
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[1, 4:] = False
    return feats, mask, torch.zeros(batch, length, dtype=torch.long)


@pytest.mark.parametrize('kind', TYPES)
def test_contract_shapes_and_attributes(kind):
    net = _backbone(kind, ('text', 'visual'))
    assert net.modalities == ('text', 'visual')
    assert (net.hidden_dim, net.num_speakers) == (16, 2)
    out = net(*_inputs(modalities=('text', 'visual')))
    assert set(out) == {'text', 'visual', 'fused'}
    assert all(v.shape == (2, 6, 16) for v in out.values())
    assert all(v[1, 4:].abs().sum() == 0 for v in out.values())  # padding is 0


@pytest.mark.parametrize('kind', TYPES)
def test_padding_does_not_change_real_utterances(kind):
    net = _backbone(kind)
    feats, mask, speakers = _inputs()
    out = net(feats, mask, speakers)
    # Garbage in the padding, and the batch padded further: the same real outputs.
    noisy = {m: torch.cat([v.clone(), torch.randn(2, 3, v.shape[-1])], dim=1)
             for m, v in feats.items()}
    for v in noisy.values():
        v[1, 4:] = 50.0
    longer = torch.cat([mask, torch.zeros(2, 3, dtype=torch.bool)], dim=1)
    again = net(noisy, longer, torch.zeros(2, 9, dtype=torch.long))
    for k in out:
        torch.testing.assert_close(again[k][:, :6][mask], out[k][mask])
    # The short dialogue alone gives what it gives inside the batch.
    alone = net({m: v[1:2, :4] for m, v in feats.items()},
                torch.ones(1, 4, dtype=torch.bool), torch.zeros(1, 4, dtype=torch.long))
    torch.testing.assert_close(alone['fused'][0], out['fused'][1, :4])


def test_only_bclstm_sees_the_other_utterances():
    feats, mask, speakers = _inputs()
    changed = {m: v.clone() for m, v in feats.items()}
    changed['text'][0, 5] += 3.0  # the last utterance of dialogue 0
    for kind, context in zip(TYPES, (False, True)):
        net = _backbone(kind)
        a, b = net(feats, mask, speakers), net(changed, mask, speakers)
        # utterance 0 of dialogue 0 sees utterance 5 only through the backward LSTM
        assert (not torch.allclose(a['fused'][0, 0], b['fused'][0, 0])) == context
        assert not torch.allclose(a['fused'][0, 5], b['fused'][0, 5])
        torch.testing.assert_close(a['text'][0, 0], b['text'][0, 0])  # no context


def test_bad_inputs_are_named():
    net = _backbone('BcLSTMBackbone', ('text', ))
    feats, mask, speakers = _inputs(modalities=('text', ))
    with pytest.raises(KeyError, match=r"BcLSTMBackbone .*no \['text'\]"):
        net({'audio': feats['text']}, mask, speakers)
    with pytest.raises(ValueError, match=r"input_dims\['text'\]=12"):
        net({'text': torch.randn(2, 6, 5)}, mask, speakers)
    hole = mask.clone()
    hole[0, 2] = False
    with pytest.raises(ValueError, match='padding at the end'):
        net(feats, hole, speakers)
    with pytest.raises(ValueError, match='must be even'):
        MODELS.build(dict(type='BcLSTMBackbone', input_dims=dict(text=4), hidden_dim=5))
    with pytest.raises(ValueError, match='input_dims must map modalities'):
        MODELS.build(dict(type='UtteranceMLPBackbone', input_dims=dict(depth=4)))


@pytest.mark.parametrize('name', ['mlp_synthetic', 'bclstm_synthetic'])
def test_baseline_config_trains_in_the_conversation_model(name):
    cfg = Config.fromfile(str(REPO / 'configs' / 'baselines' / f'{name}.py'))
    cfg.model.backbone.update(input_dims=dict(DIMS), hidden_dim=16)
    cfg.model.classes = ('a', 'b', 'c', 'd')
    apply_modalities(cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    assert model.anchor_head is None
    # Only the fused branch's class-weighted CE: no distillation, no unimodal CE.
    assert model.head.label_head.loss_module.kd_loss_weight == 0
    assert model.head.label_head.loss_module.branch_weights == dict(fused=1.0, text=0.0, audio=0.0,
                                                         visual=0.0)
    batch = model.data_preprocessor(make_batch((6, 4, 5)), training=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = sum(model(**batch, mode='loss').values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    # A tiny batch it can memorise: the loss must fall far.
    assert losses[-1] < 0.3 * losses[0]
    model.eval()
    preds = model(**batch, mode='predict')
    assert [p.pred_label.shape[0] for p in preds] == [6, 4, 5]

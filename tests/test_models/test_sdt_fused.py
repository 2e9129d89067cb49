"""FusedSDTBackbone computes SDTBackbone's maths: same outputs for the same weights, and
checkpoints interchangeable both ways."""
import copy
import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint

from vega_mm.models.backbones import FusedSDTBackbone, SDTBackbone
from vega_mm.registry import MODELS
from tests.model_utils import make_batch, model_cfg

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data')


def _pair(dropout=0.0, dtype=torch.float32, **backbone):
    """The reference and the fused model, built from the same seed."""
    cfg = model_cfg()
    cfg['backbone'].update(dropout=dropout, **backbone)
    torch.manual_seed(0)
    ref = MODELS.build(copy.deepcopy(cfg)).to(dtype)
    cfg['backbone']['type'] = 'FusedSDTBackbone'
    torch.manual_seed(0)
    fast = MODELS.build(cfg).to(dtype)
    return ref, fast


def _batch(model, lengths=(5, 3, 1), dtype=torch.float32):
    batch = make_batch(lengths=lengths)
    batch['data_samples'][0].gt_label[1] = -1  # an unlabelled utterance
    data = model.data_preprocessor(batch)
    data['inputs']['feats'] = {k: v.to(dtype) for k, v in data['inputs']['feats'].items()}
    return data


def _assert_close(actual, expected, what, rtol=1e-5, atol=1e-7):
    """Within ``rtol`` of the tensor's largest magnitude.  In fp32, ``atol`` covers the
    distillation losses: a KL between nearly equal distributions (~1e-3 here) keeps
    only ~1e-5 of relative precision in either implementation."""
    scale = float(expected.detach().abs().max())
    err = float((actual - expected).detach().abs().max())
    assert err <= rtol * scale + atol, f'{what}: difference {err:.2e} (scale {scale:.2e})'


def _outputs(model, data, seed=1):
    """Every branch logit (real utterances only) and every loss, from one seed."""
    torch.manual_seed(seed)
    out = dict(model(**copy.deepcopy(data), mode='tensor'))  # rows: real utterances
    torch.manual_seed(seed)
    out.update(model(**copy.deepcopy(data), mode='loss'))
    return out


@pytest.mark.parametrize('backbone', [dict(), dict(num_layers=2), dict(attention_window=1)],
                         ids=['one_layer', 'two_layers', 'window'])
@pytest.mark.parametrize('mode', ['eval', 'train'])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64], ids=['fp32', 'fp64'])
def test_same_outputs_as_the_reference(backbone, mode, dtype):
    """Same weights (same seed), padded batch: every logit and loss within 1e-5
    relative in fp32, and within 1e-12 in fp64 (the same maths, only rounding differs);
    train mode with dropout 0 (anchor sampling from the same seed)."""
    ref, fast = _pair(dtype=dtype, **backbone)
    getattr(ref, mode)()
    getattr(fast, mode)()
    data = _batch(ref, dtype=dtype)
    expected, actual = _outputs(ref, data), _outputs(fast, data)
    assert set(actual) == set(expected)
    tol = dict(rtol=1e-12, atol=0.0) if dtype == torch.float64 else {}
    for key in expected:
        _assert_close(actual[key], expected[key], key, **tol)


def test_same_gradients_as_the_reference():
    ref, fast = _pair(num_layers=2)
    data = _batch(ref)
    for model in (ref, fast):
        model.train()
        torch.manual_seed(1)
        loss, _ = model.parse_losses(model(**copy.deepcopy(data), mode='loss'))
        loss.backward()
    ref_grads = {k: p.grad for k, p in ref.named_parameters()}
    for key, param in fast.named_parameters():
        if '.stacked.' in key:
            name = key.rsplit('.', 1)[1]
            grads = {k[len('backbone.'):]: g for k, g in ref_grads.items()
                     if k.startswith('backbone.')}
            expected = fast.backbone.layout.stack(name, grads)
        else:
            expected = ref_grads[key]
        _assert_close(param.grad, expected, key)


def test_dropout_is_drawn_in_training():
    _, fast = _pair(dropout=0.5)
    data = _batch(fast)
    fast.train()
    feats = [fast.extract_feat(copy.deepcopy(data['inputs']))['fused'] for _ in range(2)]
    assert not torch.equal(feats[0], feats[1])
    fast.eval()
    feats = [fast.extract_feat(copy.deepcopy(data['inputs']))['fused'] for _ in range(2)]
    assert torch.equal(feats[0], feats[1])
    # one row per real utterance (the backbone contract)
    assert feats[0].shape[0] == int(data['inputs']['mask'].sum())


def test_checkpoints_load_both_ways():
    ref, fast = _pair(num_layers=2)
    assert sorted(fast.state_dict()) == sorted(ref.state_dict())
    # a reference model with other weights -> the fused model -> the first reference
    torch.manual_seed(5)
    other = MODELS.build(model_cfg())
    other.backbone = SDTBackbone(**_backbone_args(num_layers=2))
    fast.load_state_dict(other.state_dict(), strict=True)
    for key, value in fast.state_dict().items():
        assert torch.equal(value, other.state_dict()[key]), key
    ref.load_state_dict(fast.state_dict(), strict=True)
    data = _batch(ref)
    ref.eval()
    fast.eval()
    with torch.no_grad():
        expected, actual = _outputs(ref, data), _outputs(fast, data)
    for key in expected:
        _assert_close(actual[key], expected[key], key)


def _backbone_args(**kwargs):
    cfg = dict(model_cfg()['backbone'], **kwargs)
    cfg.pop('type')
    return cfg


def test_an_incomplete_checkpoint_names_the_missing_keys():
    fast = FusedSDTBackbone(**_backbone_args())
    state = fast.state_dict()
    del state['transformers.text_audio.layers.0.ff1.weight']
    with pytest.raises(RuntimeError, match='stacked.layer0_ff1_weight'):
        fast.load_state_dict(state)


def test_loads_the_legacy_checkpoint_and_reproduces_the_reference_outputs():
    """The old-layout checkpoint of the faithful code (see test_reference_outputs.py)."""
    cfg = model_cfg()
    cfg['backbone']['type'] = 'FusedSDTBackbone'
    model = MODELS.build(cfg).eval()
    load_checkpoint(model, osp.join(DATA, 'legacy_checkpoint.pth'), map_location='cpu',
                    strict=True)
    ref = torch.load(osp.join(DATA, 'reference_outputs.pt'), weights_only=True)
    from vega_mm.structures import ConversationDataSample
    samples = []
    for i, labels in enumerate(ref['inputs']['labels']):
        s = ConversationDataSample(metainfo=dict(dialogue_id=f'd{i}'))
        s.set_gt_label(labels.clone())
        samples.append(s)
    inputs = {k: ref['inputs'][k] for k in ('feats', 'mask', 'speakers')}
    with torch.no_grad():
        tensor = model(inputs=inputs, data_samples=samples, mode='tensor')
        losses = model(inputs=inputs, data_samples=samples, mode='loss')
    mask = inputs['mask']
    for key, expected in ref['tensor'].items():
        _assert_close(tensor[key], expected[mask], key)  # today: real utterances' rows
    for key, expected in ref['eval_loss'].items():
        _assert_close(losses[key], expected, key)


@pytest.mark.parametrize('backbone', [dict(), dict(num_layers=2), dict(attention_window=1)],
                         ids=['one_layer', 'two_layers', 'window'])
def test_training_path_with_dropout_computes_the_reference_maths(backbone, monkeypatch):
    """In training with dropout > 0 the fused backbone computes attention itself (scores,
    bias, softmax, dropout, values) instead of calling SDPA.  With its dropout made the
    identity, outputs and gradients equal the reference backbone without dropout."""
    from vega_mm.models.backbones import sdt_fused
    calls = []

    def identity(x, p, training=True):
        calls.append(tuple(x.shape))
        return x

    monkeypatch.setattr(sdt_fused, 'dropout', identity)
    args = _backbone_args(**backbone)
    torch.manual_seed(0)
    ref = SDTBackbone(**dict(args, dropout=0.0)).train()
    torch.manual_seed(0)
    fast = FusedSDTBackbone(**dict(args, dropout=0.3)).train()
    data = _batch(MODELS.build(model_cfg()))['inputs']
    weights = torch.randn(*data['mask'].shape, args['hidden_dim'])
    mask = data['mask']
    outs, grads = [], []
    for model in (ref, fast):
        out = model(data['feats'], mask, data['speakers'])  # rows: real utterances
        sum((v * weights[mask]).sum() for v in out.values()).backward()
        outs.append(dict(out))
        grads.append({k: p.grad for k, p in model.named_parameters()})
    # the attention weights [P, B, heads, L, L] went through the (patched) dropout
    length = mask.shape[1]
    assert any(len(s) == 5 and s[-2:] == (length, length) for s in calls)
    for key in outs[0]:
        _assert_close(outs[1][key], outs[0][key], key)
    for key, grad in grads[1].items():
        if key.startswith('stacked.'):
            name = key.split('.', 1)[1]
            expected = fast.layout.stack(name, grads[0])
        else:
            expected = grads[0][key]
        _assert_close(grad, expected, key)


def test_pad_heads_gradient():
    """The packed -> padded head-major layout and its hand-written backward."""
    from vega_mm.models.backbones.sdt_fused import _PadHeads
    mask = torch.tensor([[True, True, True], [True, False, False]])
    x = torch.randn(2, int(mask.sum()), 2 * 6, dtype=torch.float64, requires_grad=True)
    k, v = _PadHeads.apply(x, mask, 2, 3)
    assert k.shape == v.shape == (2 * 2, 3, 3, 2)
    # row 1 of dialogue 0, pair 1, head 2 of the values is x[1, 1, 6 + 2 * 2: 6 + 3 * 2]
    assert torch.equal(v.view(2, 2, 3, 3, 2)[1, 0, 2, 1], x[1, 1, 10:12])
    assert not k.view(2, 2, 3, 3, 2)[:, 1, :, 1:].any()  # padding is 0
    assert torch.autograd.gradcheck(lambda t: _PadHeads.apply(t, mask, 2, 3), (x, ))

"""FusedSDTBackbone under bf16 autocast: persistent bf16 weight copies and the products'
own backward compute autocast's maths (within bf16 rounding), fp32 runs as before, and
the copies follow every change of the weights."""
import copy

import pytest
import torch

from vega_mm.models.backbones import FusedSDTBackbone
from vega_mm.models.backbones import sdt_fused
from tests.model_utils import DIMS

AUTOCAST = dict(device_type='cpu', dtype=torch.bfloat16)


def _backbone(**kwargs) -> FusedSDTBackbone:
    torch.manual_seed(0)
    return FusedSDTBackbone(input_dims=dict(DIMS), hidden_dim=32, num_heads=4,
                            num_speakers=3, dropout=0.0, **kwargs)


def _inputs(lengths=(5, 3, 1), seed=1):
    gen = torch.Generator().manual_seed(seed)
    length = max(lengths)
    mask = torch.arange(length)[None] < torch.tensor(lengths)[:, None]
    feats = {m: torch.randn(len(lengths), length, d, generator=gen) for m, d in DIMS.items()}
    speakers = torch.randint(0, 3, (len(lengths), length), generator=gen)
    return feats, mask, speakers


def _run(model, inputs, fast: bool, monkeypatch=None):
    """Outputs and the parameters' gradients of one forward/backward under autocast;
    ``fast=False``: plain autocast (no persistent copies, autograd's own backward)."""
    model.zero_grad(set_to_none=True)
    with monkeypatch.context() as patch:
        if not fast:
            patch.setattr(FusedSDTBackbone, 'low_precision_weights', lambda self: None)
        with torch.autocast(**AUTOCAST):
            out = model(*inputs)
    loss = sum((v.float() * torch.linspace(-1, 1, v.shape[-1])).sum() for v in out.values())
    loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return {k: v.detach().float() for k, v in out.items()}, grads


def _assert_close(actual, expected, what, rtol):
    scale = float(expected.abs().max())
    err = float((actual - expected).abs().max())
    assert err <= rtol * scale, f'{what}: difference {err:.2e} (scale {scale:.2e})'


@pytest.mark.parametrize('kwargs', [dict(), dict(num_layers=2)], ids=['one', 'two_layers'])
def test_bf16_path_computes_autocasts_maths(kwargs, monkeypatch):
    """Outputs and every parameter gradient as plain autocast gives them, within bf16
    rounding (the products and their inputs are the same bf16 numbers; sums may round
    in another order, the bias gradient is summed in fp32), and close to fp32."""
    model = _backbone(**kwargs).train()
    inputs = _inputs()
    out_fast, grad_fast = _run(model, inputs, fast=True, monkeypatch=monkeypatch)
    out_plain, grad_plain = _run(model, inputs, fast=False, monkeypatch=monkeypatch)
    assert set(grad_fast) == set(grad_plain) and len(grad_fast) == len(list(
        model.parameters()))
    for key in out_plain:
        assert out_fast[key].shape == out_plain[key].shape
        _assert_close(out_fast[key], out_plain[key], key, rtol=2e-2)
    for name in grad_plain:
        assert grad_fast[name].dtype == torch.float32
        _assert_close(grad_fast[name], grad_plain[name], name, rtol=5e-2)
    out32 = model(*inputs)  # fp32: bf16 stays near it
    for key in out32:
        _assert_close(out_fast[key], out32[key].detach(), key, rtol=5e-2)


def test_fp32_path_does_not_use_the_bf16_products(monkeypatch):
    """Outside autocast there are no copies and the batched products are the fp32 ones,
    bit for bit the outputs of the plain path."""
    model = _backbone(num_layers=2).train()
    inputs = _inputs()
    assert model.low_precision_weights() is None
    torch.manual_seed(2)
    expected = model(*inputs)

    def refuse(*args):
        raise AssertionError('_LowPrecisionLinear used in fp32')
    monkeypatch.setattr(sdt_fused._LowPrecisionLinear, 'apply', refuse)
    torch.manual_seed(2)
    actual = model(*inputs)
    for key in expected:
        assert torch.equal(actual[key], expected[key]), key
    with torch.autocast(device_type='cpu', dtype=torch.bfloat16, enabled=False):
        assert model.low_precision_weights() is None


def _copies_match(model) -> None:
    low = model.low_precision_weights()
    assert low, 'no bf16 copies under autocast'
    for name, buf in low.items():
        assert buf.dtype == torch.bfloat16
        assert torch.equal(buf, model.stacked[name].detach().to(torch.bfloat16)), name


@pytest.mark.parametrize('fused', [True, False], ids=['fused_adamw', 'for_loop_adamw'])
def test_copies_follow_optimizer_steps_without_gradients(fused):
    """Evaluation (no gradients) reuses the copies until the weights change: after an
    optimizer step (the fused AdamW does not bump version counters), a load_state_dict
    and an in-place edit, the next forward uses the new weights."""
    model = _backbone().eval()
    inputs = _inputs()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1, fused=fused)
    with torch.no_grad(), torch.autocast(**AUTOCAST):
        model(*inputs)
        first = dict(model.low_precision_weights())
        before = {k: v.clone() for k, v in first.items()}
        again = model.low_precision_weights()
        assert all(again[k] is first[k] for k in first)  # the same persistent buffers
        assert all(torch.equal(again[k], before[k]) for k in first)  # not rewritten

    with torch.autocast(**AUTOCAST):
        out = model(*inputs)
    sum(v.float().sum() for v in out.values()).backward()
    optimizer.step()
    with torch.no_grad(), torch.autocast(**AUTOCAST):
        _copies_match(model)
        name = 'layer0_q_proj_weight'
        assert not torch.equal(model.low_precision_weights()[name], before[name])
        expected = model(*inputs)

    state = copy.deepcopy(_backbone().state_dict())  # other weights (another draw)
    torch.manual_seed(5)
    for v in state.values():
        v.normal_()
    model.load_state_dict(state)
    with torch.no_grad(), torch.autocast(**AUTOCAST):
        _copies_match(model)
        with torch.no_grad():
            model.stacked['gate_weight'].mul_(2)
        _copies_match(model)
        changed = model(*inputs)
    assert not torch.equal(changed['fused'], expected['fused'])


def test_two_forwards_share_copies_and_a_stale_graph_fails_loudly():
    """Two training forwards with the same weights share the copies (both graphs can
    be back-propagated); after a weight change the next forward rewrites them, and a
    backward through the older graph raises autograd's in-place error instead of using
    other weights than its forward did."""
    model = _backbone().train()
    inputs = _inputs()
    with torch.autocast(**AUTOCAST):
        outs = [model(*inputs), model(*inputs)]
    sum(v.float().sum() for out in outs for v in out.values()).backward()
    with torch.autocast(**AUTOCAST):
        first = model(*inputs)
        with torch.no_grad():
            model.stacked['layer0_ff1_weight'].add_(1.0)
        second = model(*inputs)
    with torch.no_grad(), torch.autocast(**AUTOCAST):
        _copies_match(model)
    sum(v.float().sum() for v in second.values()).backward()
    with pytest.raises(RuntimeError, match='inplace|in-place'):
        sum(v.float().sum() for v in first.values()).backward()


def test_inference_mode_then_training():
    """Copies made under torch.inference_mode are ordinary tensors: a later training
    step can use (and rewrite) them."""
    model = _backbone()
    inputs = _inputs()
    with torch.inference_mode(), torch.autocast(**AUTOCAST):
        model.eval()(*inputs)
    model.train()
    with torch.autocast(**AUTOCAST):
        out = model(*inputs)
    sum(v.float().sum() for v in out.values()).backward()
    assert model.stacked['layer0_kv_proj_weight'].grad is not None


def test_state_dict_has_no_copies():
    model = _backbone()
    with torch.no_grad(), torch.autocast(**AUTOCAST):
        model(*_inputs())
    keys = set(model.state_dict())
    assert keys == set(_backbone().state_dict())
    assert all(v.dtype == torch.float32 for v in model.state_dict().values())


def test_training_steps_through_the_bf16_optim_wrapper(monkeypatch):
    """``tools/train.py --amp`` on a CPU: three steps of the classifier through
    BF16AmpOptimWrapper with the fused AdamW give plain autocast's losses (within bf16
    rounding), i.e. each step's forward sees the weights the previous step wrote (the
    backbone's and the heads' copies)."""
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope

    from tests.model_utils import make_batch, model_cfg
    from vega_mm.models.low_precision import LowPrecisionLinear
    from vega_mm.registry import MODELS
    init_default_scope('vega_mm')
    cfg = model_cfg(hidden=32)
    cfg['backbone'].update(type='FusedSDTBackbone', dropout=0.0)
    data = make_batch(lengths=(5, 3, 2))

    def losses(fast: bool):
        torch.manual_seed(0)
        model = MODELS.build(copy.deepcopy(cfg)).train()
        wrapper = build_optim_wrapper(model, dict(
            type='BF16AmpOptimWrapper', optimizer=dict(type='AdamW', lr=1e-2, fused=True)))
        out = []
        with monkeypatch.context() as patch:
            if not fast:  # plain autocast in the backbone and the heads
                patch.setattr(FusedSDTBackbone, 'low_precision_weights', lambda self: None)
                patch.setattr(LowPrecisionLinear, 'forward', torch.nn.Linear.forward)
            for _ in range(3):
                torch.manual_seed(1)  # the same anchor sampling in both runs
                with wrapper.optim_context(model):
                    batch = model.data_preprocessor(copy.deepcopy(data), True)
                    loss, _ = model.parse_losses(model(**batch, mode='loss'))
                wrapper.update_params(loss)
                out.append(float(loss.detach()))
        return out

    fast, plain = losses(True), losses(False)
    assert fast[0] != fast[2]  # the steps change the weights
    for a, b in zip(fast, plain):
        assert abs(a - b) <= 2e-2 * abs(b), (fast, plain)

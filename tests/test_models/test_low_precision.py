"""LowPrecisionLinear: nn.Linear outside autocast; autocast's maths inside it, with
persistent bf16 weight copies that follow every change of the weights."""
import pytest
import torch
import torch.nn as nn

from vega_mm.models.low_precision import LowPrecisionLinear

AUTOCAST = dict(device_type='cpu', dtype=torch.bfloat16)


def _pair(bias=True):
    torch.manual_seed(0)
    fast = LowPrecisionLinear(24, 16, bias=bias)
    plain = nn.Linear(24, 16, bias=bias)
    plain.load_state_dict(fast.state_dict())
    return fast, plain


def _step(layer, x, autocast: bool):
    layer.zero_grad(set_to_none=True)
    x = x.clone().requires_grad_(True)
    with torch.autocast(**AUTOCAST, enabled=autocast):
        y = layer(x)
    (y.float() * torch.linspace(-1, 1, y.shape[-1])).sum().backward()
    return y.detach(), x.grad, {n: p.grad for n, p in layer.named_parameters()}


def _close(a, b, rtol, what):
    err, scale = float((a.float() - b.float()).abs().max()), float(b.float().abs().max())
    assert err <= rtol * scale, f'{what}: {err:.2e} (scale {scale:.2e})'


@pytest.mark.parametrize('bias', [True, False])
@pytest.mark.parametrize('shape', [(7, 24), (3, 5, 24)], ids=['2d', '3d'])
def test_same_as_nn_linear(bias, shape):
    fast, plain = _pair(bias)
    x = torch.randn(*shape)
    y, gx, g = _step(fast, x, autocast=False)  # fp32: exactly nn.Linear
    y0, gx0, g0 = _step(plain, x, autocast=False)
    assert torch.equal(y, y0) and torch.equal(gx, gx0)
    assert all(torch.equal(g[k], g0[k]) for k in g0)
    y, gx, g = _step(fast, x, autocast=True)  # bf16: autocast's maths within rounding
    y0, gx0, g0 = _step(plain, x, autocast=True)
    assert y.dtype == y0.dtype == torch.bfloat16 and gx.dtype == torch.float32
    _close(y, y0, 1e-2, 'output')
    _close(gx, gx0, 2e-2, 'input gradient')
    for k in g0:
        assert g[k].dtype == torch.float32
        _close(g[k], g0[k], 2e-2, k)
    assert set(fast.state_dict()) == set(plain.state_dict())


@pytest.mark.parametrize('fused', [True, False])
def test_copy_follows_optimizer_steps_and_edits(fused):
    fast, _ = _pair()
    x = torch.randn(4, 24)
    optimizer = torch.optim.AdamW(fast.parameters(), lr=0.1, fused=fused)
    for _ in range(2):
        _step(fast, x, autocast=True)
        optimizer.step()
        with torch.no_grad(), torch.autocast(**AUTOCAST):
            y = fast(x)
        expected = x.bfloat16() @ fast.weight.detach().bfloat16().t() + \
            fast.bias.detach().bfloat16()
        _close(y, expected, 1e-2, 'after a step')
    with torch.no_grad():
        fast.weight.mul_(-1)
        with torch.autocast(**AUTOCAST):
            flipped = fast(x)
    _close(flipped - fast.bias.detach().bfloat16(), -(y - fast.bias.detach().bfloat16()),
           2e-2, 'after an in-place edit')

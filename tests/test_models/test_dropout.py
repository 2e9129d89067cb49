"""The faster dropout: F.dropout's maths (Bernoulli(1 - p) keep mask, 1 / (1 - p) scale)."""
import pytest
import torch
import torch.nn as nn

from vega_mm.models.dropout import FastDropout, dropout, use_fast_dropout
from vega_mm.registry import MODELS
from tests.model_utils import model_cfg


@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_keep_rate_scale_and_gradient(dtype):
    p = 0.53
    torch.manual_seed(0)
    x = torch.full((1000, 1000), 2.0, dtype=dtype, requires_grad=True)
    out = dropout(x, p)
    assert out.dtype == dtype
    kept = out != 0
    # 1e6 draws: the keep rate's standard deviation is 5e-4
    assert abs(kept.float().mean().item() - (1 - p)) < 3e-3
    assert torch.allclose(out[kept].float(), torch.tensor(2.0 / (1 - p)), rtol=1e-2)
    out.backward(torch.ones_like(out))
    assert torch.equal(x.grad != 0, kept)
    assert torch.allclose(x.grad[kept].float(), torch.tensor(1 / (1 - p)), rtol=1e-2)


def test_draws_differ_and_follow_the_seed():
    x = torch.ones(100, 100)
    torch.manual_seed(1)
    a, b = dropout(x, 0.5), dropout(x, 0.5)
    torch.manual_seed(1)
    assert not torch.equal(a, b)
    assert torch.equal(dropout(x, 0.5), a)


def test_edge_cases():
    x = torch.randn(4, 5)
    assert dropout(x, 0.5, training=False) is x
    assert dropout(x, 0.0) is x
    assert not dropout(x, 1.0).any()
    with pytest.raises(ValueError, match='in \\[0, 1\\]'):
        dropout(x, 1.5)


def test_heads_use_the_fast_dropout_only_when_asked():
    def dropouts(model):
        return [type(m) for m in model.modules() if isinstance(m, nn.Dropout)]

    slow = MODELS.build(model_cfg())
    assert dropouts(slow) and set(dropouts(slow)) == {nn.Dropout}
    fast = MODELS.build(dict(model_cfg(), fast_dropout=True))
    head_drops = dropouts(fast.head)
    assert head_drops and set(head_drops) == {FastDropout}
    # same parameters, same p
    assert list(fast.state_dict()) == list(slow.state_dict())
    assert [m.p for m in fast.head.modules() if isinstance(m, nn.Dropout)] == \
        [m.p for m in slow.head.modules() if isinstance(m, nn.Dropout)]
    fast.train()
    from tests.model_utils import make_batch
    data = fast.data_preprocessor(make_batch())
    losses = fast(**data, mode='loss')
    assert all(torch.isfinite(v) for v in losses.values())
    with pytest.raises(ValueError, match='fast_dropout'):
        MODELS.build(dict(model_cfg(), fast_dropout='yes'))


def test_use_fast_dropout_counts_and_keeps_p():
    seq = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.2), nn.Dropout(0.4))
    assert use_fast_dropout(seq) == 2
    assert [type(m) for m in seq][1:] == [FastDropout, FastDropout]
    assert [seq[1].p, seq[2].p] == [0.2, 0.4]
    with pytest.raises(ValueError, match='in-place'):
        FastDropout(0.2, inplace=True)(torch.ones(2))
    # an in-place nn.Dropout is refused when converting, not at its first forward
    mixed = nn.Sequential(nn.Dropout(0.2), nn.Dropout(0.3, inplace=True))
    with pytest.raises(ValueError, match=r"in-place mode: \['1'\]"):
        use_fast_dropout(mixed)
    assert [type(m) for m in mixed] == [nn.Dropout, nn.Dropout]

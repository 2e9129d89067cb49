"""BF16AmpOptimWrapper: bf16 autocast on the CPU behind MMEngine's AmpOptimWrapper
interface (what ``tools/train.py --amp`` uses without a GPU)."""
import pytest
import torch
import torch.nn as nn
from mmengine.optim import build_optim_wrapper
from mmengine.registry import init_default_scope

from vega_mm.engine import BF16AmpOptimWrapper


def _wrapper(model, **kwargs):
    init_default_scope('vega_mm')
    return build_optim_wrapper(model, dict(type='BF16AmpOptimWrapper', **kwargs,
                                           optimizer=dict(type='AdamW', lr=0.1)))


def test_forward_runs_in_bf16_and_parameters_stay_fp32():
    model = nn.Linear(8, 4)
    wrapper = _wrapper(model)
    assert isinstance(wrapper, BF16AmpOptimWrapper)
    x = torch.randn(3, 8)
    with wrapper.optim_context(model):
        y = model(x)
    assert y.dtype == torch.bfloat16
    assert model(x).dtype == torch.float32  # outside the context: fp32
    before = model.weight.detach().clone()
    wrapper.update_params(y.float().pow(2).mean())
    assert model.weight.dtype == torch.float32
    assert not torch.equal(model.weight, before)


@pytest.mark.parametrize('kwargs, key', [(dict(loss_scale='dynamic'), 'loss_scale'),
                                         (dict(dtype='float16'), 'dtype')])
def test_refuses_settings_it_cannot_honour(kwargs, key):
    with pytest.raises(ValueError, match=f'optim_wrapper.{key}'):
        _wrapper(nn.Linear(2, 2), **kwargs)


def test_loads_a_state_dict_with_a_loss_scaler():
    """A checkpoint written by AmpOptimWrapper (GPU) resumes here: the scaler is dropped."""
    model = nn.Linear(2, 2)
    wrapper = _wrapper(model)
    state = wrapper.state_dict()
    state['loss_scaler'] = {'scale': 65536.0}
    wrapper.load_state_dict(state)
    assert 'loss_scaler' not in wrapper.state_dict()


def test_train_cli_amp_selects_it_without_a_gpu(monkeypatch):
    import importlib.util
    import os.path as osp

    from mmengine.config import Config
    root = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
    spec = importlib.util.spec_from_file_location('train_tool', osp.join(root, 'tools',
                                                                        'train.py'))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    monkeypatch.setattr('sys.argv', ['train.py', 'configs/vega/vega_synthetic.py', '--amp'])
    cfg = tool.merge_args(Config.fromfile(osp.join(root, 'configs/vega/vega_synthetic.py')),
                          tool.parse_args())
    assert cfg.optim_wrapper.type == 'BF16AmpOptimWrapper'
    assert 'loss_scale' not in cfg.optim_wrapper

"""The arguments every backbone shares are handled once by ConversationBackbone: passed
on through ``**kwargs``, listed in each backbone's signature, validated in one place."""
import inspect

import pytest

import vega_mm.models  # noqa: F401
from vega_mm.registry import MODELS

SHARED = {'num_speakers': 2, 'causal': False, 'init_cfg': None}
#: the backbones that cannot be causal, and a tiny input for each
NON_CAUSAL = ['DialogueGCNBackbone', 'MMGCNBackbone', 'M3NetBackbone', 'GraphSmileBackbone',
              'BcLSTMBackbone']
ALL = NON_CAUSAL + ['SDTBackbone', 'FusedSDTBackbone']


@pytest.mark.parametrize('name', ALL)
def test_the_signature_lists_the_shared_arguments_with_their_defaults(name):
    params = inspect.signature(MODELS.get(name)).parameters
    assert not any(p.kind is p.VAR_KEYWORD for p in params.values())
    for arg, default in SHARED.items():
        assert params[arg].default == default, (name, arg)
    assert 'max_len' in params


@pytest.mark.parametrize('name', NON_CAUSAL)
def test_causal_is_refused_with_the_models_reason(name):
    cls = MODELS.get(name)
    assert cls.non_causal_reason
    with pytest.raises(ValueError, match=f'{name} cannot be causal'):
        cls(input_dims=dict(text=4), causal=True)


def test_shared_arguments_reach_the_base_and_are_validated():
    b = MODELS.build(dict(type='BcLSTMBackbone', input_dims=dict(text=4), hidden_dim=8,
                          num_speakers=5, max_len=7))
    assert (b.num_speakers, b.max_len, b.causal) == (5, 7, False)
    with pytest.raises(ValueError, match='num_speakers must be a positive integer'):
        MODELS.build(dict(type='GraphSmileBackbone', input_dims=dict(text=4), hidden_dim=8,
                          num_speakers=0))
    with pytest.raises(TypeError):
        MODELS.get('M3NetBackbone')(input_dims=dict(text=4), num_speakrs=2)


def test_a_misspelt_shared_argument_is_named_by_the_config_check():
    from vega_mm.utils.config import ConfigError, merge_overrides
    from mmengine.config import Config
    cfg = Config(dict(model=dict(type='ConversationClassifier', backbone=dict(
        type='MMGCNBackbone', input_dims=dict(text=4)))))
    with pytest.raises(ConfigError, match='did you mean model.backbone.num_speakers'):
        merge_overrides(cfg, {'model.backbone.num_speakrs': 3})

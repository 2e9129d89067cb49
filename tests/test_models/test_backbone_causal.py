"""The causal (live) option of SDTBackbone: no utterance sees a later one."""
import pytest
import torch

from vega_mm.models import SDTBackbone
from vega_mm.models.backbones import FusedSDTBackbone
from tests.model_utils import DIMS, make_batch, to_padded

MODALITIES = ('text', 'audio', 'visual')


def _outputs(backbone, batch):
    inputs = batch['inputs']
    return to_padded(backbone(inputs['feats'], inputs['mask'], inputs['speakers']),
                     inputs['mask'])


@pytest.mark.parametrize('cls', [SDTBackbone, FusedSDTBackbone])
@pytest.mark.parametrize('causal', [True, False])
def test_later_utterances_change_earlier_outputs_only_without_causal(cls, causal):
    torch.manual_seed(0)
    backbone = cls({m: DIMS[m] for m in MODALITIES}, hidden_dim=16, num_heads=2,
                   dropout=0.1, num_speakers=2, causal=causal).eval()
    batch = make_batch((6, ), MODALITIES)
    before = _outputs(backbone, batch)
    for m in MODALITIES:  # a different future: utterances 4 and 5 change in every modality
        batch['inputs']['feats'][m][0, 4:] = torch.randn(2, DIMS[m])
    after = _outputs(backbone, batch)
    for key in (*MODALITIES, 'fused'):
        same_past = torch.allclose(before[key][0, :4], after[key][0, :4], atol=1e-6)
        assert same_past == causal, key
        assert not torch.allclose(before[key][0, 4:], after[key][0, 4:])


def test_causal_bias_hides_future_and_padding():
    backbone = SDTBackbone(dict(text=4), hidden_dim=8, num_heads=2, causal=True)
    padding = torch.tensor([[False, False, True]])
    bias = backbone.attention_bias(padding)[0, 0]  # [query, key]
    hidden = bias < 0
    assert hidden.tolist() == [[False, True, True], [False, False, True],
                               [False, False, True]]


def test_causal_must_be_a_bool():
    with pytest.raises(ValueError, match='causal'):
        SDTBackbone(dict(text=4), hidden_dim=8, num_heads=2, causal='yes')

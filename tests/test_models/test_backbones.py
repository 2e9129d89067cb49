import pytest
import torch

from vega_mm.models import SDTBackbone
from tests.model_utils import DIMS, Padded, collate, make_batch, make_items


def _backbone(modalities, **kw):
    """The backbone with its outputs re-padded to [B, L, H] (to compare positions)."""
    return Padded(SDTBackbone(input_dims={m: DIMS[m] for m in modalities}, hidden_dim=16,
                              num_heads=2, dropout=0.1, num_speakers=2, **kw))


def _padded(modalities, lengths=(5, 3)):
    return make_batch(lengths, modalities)['inputs']


@pytest.mark.parametrize('modalities', [('text', ), ('text', 'audio'),
                                        ('text', 'audio', 'visual')])
def test_shapes_and_transformer_count(modalities):
    backbone = _backbone(modalities).eval()
    batch = _padded(modalities)
    out = backbone(batch['feats'], batch['mask'], batch['speakers'])
    assert set(out) == set(modalities) | {'fused'}
    for v in out.values():
        assert v.shape == (2, 5, 16)
    # one transformer per (target, source) pair: 1, 4 or 9
    assert len(backbone.transformers) == len(modalities)**2


def test_padding_does_not_change_real_positions():
    torch.manual_seed(0)
    backbone = _backbone(('text', 'audio', 'visual')).eval()
    dialogue = make_items((4, ), ('text', 'audio', 'visual'))
    alone = collate(dialogue)['inputs']
    out_alone = backbone(alone['feats'], alone['mask'], alone['speakers'])
    # the same dialogue batched with a longer one gets padded to 9 utterances
    longer = make_items((9, ), ('text', 'audio', 'visual'), seed=1)
    both = collate(dialogue, longer)['inputs']
    out_both = backbone(both['feats'], both['mask'], both['speakers'])
    for k in out_alone:
        torch.testing.assert_close(out_both[k][0, :4], out_alone[k][0], atol=1e-5, rtol=1e-4)


def test_fusion_is_convex_combination_of_modalities():
    backbone = _backbone(('text', 'audio')).eval()
    batch = _padded(('text', 'audio'))
    out = backbone(batch['feats'], batch['mask'], batch['speakers'])
    lo = torch.minimum(out['text'], out['audio'])
    hi = torch.maximum(out['text'], out['audio'])
    assert torch.all(out['fused'] >= lo - 1e-5) and torch.all(out['fused'] <= hi + 1e-5)


def test_speaker_changes_output():
    backbone = _backbone(('text', )).eval()
    batch = _padded(('text', ))
    a = backbone(batch['feats'], batch['mask'], batch['speakers'])['fused']
    b = backbone(batch['feats'], batch['mask'], 1 - batch['speakers'].clamp(max=1))['fused']
    assert not torch.allclose(a, b)


def test_bad_inputs_have_clear_errors():
    backbone = _backbone(('text', 'audio'))
    batch = _padded(('text', ))
    with pytest.raises(KeyError, match=r"no \['audio'\]"):
        backbone(batch['feats'], batch['mask'], batch['speakers'])
    feats = {'text': torch.randn(2, 5, 7), 'audio': torch.randn(2, 5, DIMS['audio'])}
    with pytest.raises(ValueError,
                       match=r"text features have dimension 7.*input_dims\['text'\]=12"):
        backbone(feats, batch['mask'], batch['speakers'])
    with pytest.raises(ValueError, match='must map modalities'):
        SDTBackbone(input_dims=dict(video=3))
    with pytest.raises(ValueError, match='exceeds max_len=3; raise model.backbone.max_len'):
        small = _backbone(('text', ), max_len=3)
        small(batch['feats'], batch['mask'], batch['speakers'])


def _text_batch(length=7, seed=0, modalities=('text', )):
    g = torch.Generator().manual_seed(seed)
    feats = {m: torch.randn(1, length, DIMS[m], generator=g) for m in modalities}
    mask = torch.ones(1, length, dtype=torch.bool)
    speakers = torch.tensor([[i % 2 for i in range(length)]])
    return feats, mask, speakers


@pytest.mark.parametrize('modalities', [('text', ), ('text', 'audio')])
@pytest.mark.parametrize('window', [0, 1, 2])
def test_attention_window_limits_context(window, modalities):
    torch.manual_seed(0)
    backbone = _backbone(modalities, attention_window=window).eval()
    feats, mask, speakers = _text_batch(modalities=modalities)
    base = backbone(feats, mask, speakers)
    # changing the text of utterance 3 changes exactly the positions within `window`
    # of it, in every output (cross-modal attention is windowed too)
    changed = dict(feats, text=feats['text'].clone())
    changed['text'][0, 3] += 5.0
    out = backbone(changed, mask, speakers)
    assert set(out) == set(modalities) | {'fused'}
    for k in out:
        moved = (out[k][0] - base[k][0]).abs().amax(dim=-1) > 1e-5
        assert moved.tolist() == [abs(i - 3) <= window for i in range(7)], k


def test_full_attention_sees_the_whole_dialogue():
    torch.manual_seed(0)
    backbone = _backbone(('text', )).eval()
    feats, mask, speakers = _text_batch()
    base = backbone(feats, mask, speakers)['fused'][0]
    feats['text'][0, 6] += 5.0
    out = backbone(feats, mask, speakers)['fused'][0]
    assert ((out - base).abs().amax(dim=-1) > 1e-5).all()


def test_attention_window_keeps_padding_invariance():
    torch.manual_seed(0)
    backbone = _backbone(('text', 'audio'), attention_window=2).eval()
    dialogue = make_items((4, ), ('text', 'audio'))
    alone = collate(dialogue)['inputs']
    longer = make_items((9, ), ('text', 'audio'), seed=1)
    both = collate(dialogue, longer)['inputs']
    out_alone = backbone(alone['feats'], alone['mask'], alone['speakers'])
    out_both = backbone(both['feats'], both['mask'], both['speakers'])
    for k in out_alone:
        torch.testing.assert_close(out_both[k][0, :4], out_alone[k][0], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize('window', [-1, 1.5, True])
def test_bad_attention_window(window):
    with pytest.raises(ValueError, match='attention_window must be None or an integer'):
        _backbone(('text', ), attention_window=window)

"""Parameters and FLOPs: exact counts of known layers, attention on CPU included."""
import pytest

from vega_mm.analysis import count_flops, dummy_dialogue_batch, model_complexity


def test_known_layers_are_counted_exactly(tiny_model):
    length, hidden = 7, 16
    result = model_complexity(tiny_model, length)
    parts = result['forward_by_module']
    prefix = 'ConversationClassifier.backbone'
    # a linear map D -> H on L utterances: 2 L D H
    assert parts[f'{prefix}.input_proj.text'] == 2 * length * 100 * hidden
    # attention: four H x H projections plus the two attention products (2 L L H each),
    # which PyTorch's counter misses on CPU unless told about the CPU kernel
    attn = parts[f'{prefix}.transformers.text_audio.layers.0.attn']
    assert attn == 4 * 2 * length * hidden * hidden + 2 * 2 * length * length * hidden
    assert result['params'] == sum(p.numel() for p in tiny_model.parameters())
    assert result['forward_flops_per_utterance'] == result['forward_flops'] / length
    # backward: two products per forward product, so roughly 3x the forward in all
    assert 2.5 < result['train_to_forward'] < 3.5
    assert not tiny_model.training  # left as it was


def test_dummy_batch_has_the_model_modalities_and_length(tiny_model):
    batch = dummy_dialogue_batch(tiny_model, 5)
    item, (sample, ) = batch['inputs'], batch['data_samples']
    assert set(item['feats']) == set(tiny_model.modalities)
    assert item['feats']['text'].shape == (1, 5, 100) and item['speakers'].shape == (1, 5)
    assert bool(item['mask'].all())
    assert sample.gt_label.shape == (5, )
    assert int(sample.gt_label.max()) < tiny_model.head.num_classes
    with pytest.raises(ValueError, match='length must be >= 1'):
        dummy_dialogue_batch(tiny_model, 0)


def test_flops_grow_with_length(tiny_model):
    short = count_flops(tiny_model.test_step, dummy_dialogue_batch(tiny_model, 4))
    long = count_flops(tiny_model.test_step, dummy_dialogue_batch(tiny_model, 8))
    assert long['total'] > 2 * short['total']  # linear parts x2, attention x4


def test_counting_model_needs_no_anchor_file():
    from tests.test_analysis.conftest import TINY
    from tests.test_tools.common import SYNTHETIC
    from vega_mm.apis import init_counting_model
    options = dict(TINY, **{'model.head.vega_head.anchor_bank.anchor_file': 'missing_anchor.pt',
                            'model.head.vega_head.anchor_bank.random_anchors': False})
    model = init_counting_model(str(SYNTHETIC), None, options)
    assert model.anchor_head.anchor_bank.filled
    assert model_complexity(model, 3)['forward_flops'] > 0

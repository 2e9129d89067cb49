import numpy as np
import pytest
import torch

from vega_mm.datasets import FeatureDimMask, PackConversationInputs
from vega_mm.registry import TRANSFORMS
from vega_mm.structures import ConversationDataSample


def _item(n=5, dims=(20, 10, 6)):
    return dict(
        dialogue_id='d7',
        features={m: np.ones((n, d), dtype=np.float32)
                  for m, d in zip(('text', 'audio', 'visual'), dims)},
        speakers=np.array([0, 1, 0, 1, 1][:n], dtype=np.int64),
        labels=np.array([2, 2, 5, -1, 0][:n], dtype=np.int64),
        utterance_ids=[f'u{i}' for i in range(n)],
        sample_idx=4)


def _masked_columns(x):
    zero = x == 0
    assert (zero.all(axis=0) | (~zero).all(axis=0)).all()  # same dims for every utterance
    return set(np.flatnonzero(zero.all(axis=0)).tolist())


def test_feature_dim_mask_fixed_mode_counts_and_copies():
    item = _item()
    originals = {m: x for m, x in item['features'].items()}
    out = TRANSFORMS.build(dict(type='FeatureDimMask', ratio=0.25, mode='fixed'))(item)
    for m, n_masked in (('text', 5), ('audio', 2), ('visual', 2)):  # round(0.25 * D)
        assert len(_masked_columns(out['features'][m])) == n_masked
        assert (originals[m] == 1).all()  # the stored arrays are untouched


def test_feature_dim_mask_is_reproducible_with_numpy_seed():
    np.random.seed(3)
    a = FeatureDimMask(ratio=0.3)(_item())
    np.random.seed(3)
    b = FeatureDimMask(ratio=0.3)(_item())
    c = FeatureDimMask(ratio=0.3)(_item())
    for m in a['features']:
        np.testing.assert_array_equal(a['features'][m], b['features'][m])
    assert any(_masked_columns(a['features'][m]) != _masked_columns(c['features'][m])
               for m in a['features'])


def test_feature_dim_mask_options():
    out = FeatureDimMask(ratio=0.5, modalities='audio', mode='fixed')(_item())
    assert len(_masked_columns(out['features']['audio'])) == 5
    assert not _masked_columns(out['features']['text'])
    item = _item()
    kept = FeatureDimMask(ratio=0.5, prob=0.0)(item)
    assert all((x == 1).all() for x in kept['features'].values())
    assert not _masked_columns(FeatureDimMask(ratio=0.01, mode='fixed')(_item())
                               ['features']['visual'])
    assert all((x == 1).all() for x in FeatureDimMask(ratio=0.0)(_item())['features'].values())
    np.random.seed(0)
    hits = sum(bool(_masked_columns(FeatureDimMask(0.5, 'text', prob=0.5)(_item())
                                    ['features']['text'])) for _ in range(200))
    assert 60 < hits < 140
    with pytest.raises(ValueError, match='ratio'):
        FeatureDimMask(ratio=1.5)
    with pytest.raises(ValueError, match=r"mode must be one of \('bernoulli', 'fixed'\), "
                       "got 'exact'"):
        FeatureDimMask(mode='exact')


def test_feature_dim_mask_default_drops_each_dimension_with_probability_ratio():
    """The published mask: every dimension independently with p = ratio, the same
    dimensions for all utterances of a dialogue, a different count each draw."""
    np.random.seed(0)
    mask = FeatureDimMask(ratio=0.1, modalities='text')
    assert mask.mode == 'bernoulli'
    draws, dims = 400, 200
    counts = [len(_masked_columns(mask(_item(dims=(dims, 4, 4)))['features']['text']))
              for _ in range(draws)]
    mean = np.mean(counts) / dims
    # std of the mean fraction: sqrt(p (1 - p) / (draws * dims)) = 0.0011
    assert abs(mean - 0.1) < 0.006
    assert len(set(counts)) > 5 and np.std(counts) > 2  # binomial: std sqrt(18) = 4.2
    # over draws each dimension is dropped about equally often
    hits = np.zeros(dims)
    for _ in range(draws):
        hits[list(_masked_columns(mask(_item(dims=(dims, 4, 4)))['features']['text']))] += 1
    assert hits.min() > 0 and hits.max() / draws < 0.25
    # fixed mode keeps its exact count every time
    fixed = FeatureDimMask(ratio=0.1, modalities='text', mode='fixed')
    assert {len(_masked_columns(fixed(_item(dims=(dims, 4, 4)))['features']['text']))
            for _ in range(50)} == {20}


def test_pack_conversation_inputs():
    item = _item()
    item['features']['text'] = np.arange(100, dtype=np.float64).reshape(5, 20)
    out = TRANSFORMS.build(dict(type='PackConversationInputs'))(item)
    assert set(out) == {'inputs', 'data_samples'}
    assert list(out['inputs']) == ['feats', 'speakers']
    assert list(out['inputs']['feats']) == ['text', 'audio', 'visual']
    text = out['inputs']['feats']['text']
    assert text.dtype == torch.float32 and text.shape == (5, 20) and text[1, 0] == 20
    sample = out['data_samples']
    assert isinstance(sample, ConversationDataSample)
    assert sample.gt_label.dtype == torch.long
    assert sample.gt_label.tolist() == [2, 2, 5, -1, 0]
    speakers = out['inputs']['speakers']
    assert speakers.dtype == torch.long and speakers.tolist() == [0, 1, 0, 1, 1]
    assert 'speaker' not in sample  # the model's inputs travel in inputs only
    assert sample.metainfo == dict(dialogue_id='d7', num_utterances=5, sample_idx=4,
                                   utterance_ids=['u0', 'u1', 'u2', 'u3', 'u4'])


def test_pack_carries_each_utterance_s_text_speaker_and_times_in_the_metainfo():
    from vega_mm.datasets import conversation_collate
    item = dict(_item(3), texts=['hi', 'no', 'yes'], speaker_names=['Ann', 'Bob', 'Ann'],
                starts=[0.0, 1.5, None], ends=[1.0, 2.5, None])
    sample = PackConversationInputs()(item)['data_samples']
    assert sample.texts == ['hi', 'no', 'yes']
    assert sample.speaker_names == ['Ann', 'Bob', 'Ann']
    assert sample.starts == [0.0, 1.5, None] and sample.ends == [1.0, 2.5, None]
    # and reach the model's output: the collate keeps the data samples as they are
    batch = conversation_collate([PackConversationInputs()(item)])
    assert batch['data_samples'][0].metainfo['texts'] == ['hi', 'no', 'yes']


def test_pack_selected_modalities_and_errors():
    out = PackConversationInputs(modalities=('visual', 'text'))(_item())
    assert list(out['inputs']['feats']) == ['visual', 'text']
    # a modality missing from a dialogue is the dataset's error (test_conversation_dataset)
    # and a pipeline's modalities outside the declared ones the config check's
    unlabelled = _item()
    del unlabelled['labels'], unlabelled['utterance_ids']
    sample = PackConversationInputs()(unlabelled)['data_samples']
    assert sample.gt_label.tolist() == [-1] * 5
    assert 'utterance_ids' not in sample.metainfo

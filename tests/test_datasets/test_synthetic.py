import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from vega_mm.datasets import (ConversationDataset, SyntheticConversationDataset,
                              make_synthetic_conversations, save_native)
from vega_mm.registry import DATASETS
from vega_mm.structures.meta import IEMOCAP_CLASSES


@pytest.fixture(scope='module')
def default():
    return make_synthetic_conversations()


def _same(a, b):
    if [d['dialogue_id'] for d in a] != [d['dialogue_id'] for d in b]:
        return False
    return all(
        np.array_equal(x['labels'], y['labels']) and np.array_equal(x['speakers'], y['speakers'])
        and all(np.array_equal(x['features'][m], y['features'][m]) for m in x['features'])
        for x, y in zip(a, b))


def test_default_structure(default):
    assert default.classes == IEMOCAP_CLASSES
    assert default.modalities == ('text', 'audio', 'visual')
    assert default.feature_dims == dict(text=100, audio=60, visual=40)
    assert default.num_speakers == 2
    assert {s: len(v) for s, v in default.splits.items()} == dict(train=200, val=40, test=60)
    lengths = [len(d['labels']) for d in default.dialogues]
    assert min(lengths) >= 8 and max(lengths) <= 24 and np.mean(lengths) > 14
    labels = np.concatenate([d['labels'] for d in default.dialogues])
    freq = np.bincount(labels, minlength=6) / len(labels)
    assert freq.min() > 0.06 and freq.max() < 0.3  # mildly imbalanced ...
    assert freq.max() / freq.min() > 1.8  # ... but imbalanced, frustration most frequent
    assert freq.argmax() == IEMOCAP_CLASSES.index('frustration')
    speakers = np.concatenate([d['speakers'] for d in default.dialogues])
    assert set(speakers.tolist()) == {0, 1}


def test_deterministic_and_split_independent(default):
    again = make_synthetic_conversations()
    assert _same(default.dialogues, again.dialogues)
    other = make_synthetic_conversations(seed=1)
    assert not np.array_equal(other.dialogues[0]['features']['text'][:8],
                              default.dialogues[0]['features']['text'][:8])
    small = make_synthetic_conversations(num_dialogues=(50, 40, 60))
    for split in ('val', 'test'):  # other splits do not depend on the train size
        assert _same(small.get_split(split), default.get_split(split))
    assert _same(small.get_split('train'), default.get_split('train')[:50])
    text_only = make_synthetic_conversations(num_dialogues=(5, 0, 0), feature_dims=dict(text=100))
    assert text_only.modalities == ('text', )
    assert np.array_equal(text_only.dialogues[0]['features']['text'],
                          default.dialogues[0]['features']['text'])
    assert text_only.splits['val'] == [] and len(text_only.splits['train']) == 5


def test_int_sizes_and_bad_arguments():
    coll = make_synthetic_conversations(num_dialogues=10, min_len=3, max_len=3)
    assert [len(coll.splits[s]) for s in ('train', 'val', 'test')] == [10, 2, 3]
    assert all(len(d['labels']) == 3 for d in coll.dialogues)
    with pytest.raises(ValueError, match='feature_dims'):
        make_synthetic_conversations(feature_dims=dict(depth=3))
    with pytest.raises(ValueError, match='min_len'):
        make_synthetic_conversations(min_len=5, max_len=4)


def test_synthetic_dataset_matches_generator_and_native_copy(default, tmp_path):
    ds = DATASETS.build(dict(type='SyntheticConversationDataset', split='val',
                             pipeline=[dict(type='PackConversationInputs')]))
    assert isinstance(ds, SyntheticConversationDataset) and len(ds) == 40
    meta = ds.metainfo
    assert meta['classes'] == IEMOCAP_CLASSES and meta['num_speakers'] == 2
    assert meta['feature_dims'] == dict(text=100, audio=60, visual=40)
    assert _same([ds.get_data_info(i) for i in range(len(ds))], default.get_split('val'))
    assert ds[0]['inputs']['feats']['visual'].shape[1] == 40
    path = save_native(str(tmp_path / 'synthetic.npz'), default.dialogues, default.classes,
                       default.splits)
    native = ConversationDataset(path, split='val')
    assert native.metainfo['feature_dims'] == meta['feature_dims']
    assert _same([native.get_data_info(i) for i in range(len(native))],
                 default.get_split('val'))
    audio = SyntheticConversationDataset(split='test', num_dialogues=(2, 2, 3),
                                         modalities=('audio', ))
    assert len(audio) == 3 and audio.metainfo['modalities'] == ('audio', )


def _features(dialogues, modalities, context):
    xs, ys = [], []
    for d in dialogues:
        x = np.concatenate([d['features'][m] for m in modalities], axis=1)
        if context:  # the neighbours' features, zero beyond the dialogue
            pad = np.zeros_like(x[:1])
            x = np.concatenate([np.concatenate([pad, x[:-1]]), x,
                                np.concatenate([x[1:], pad])], axis=1)
        xs.append(x)
        ys.append(d['labels'])
    return np.concatenate(xs), np.concatenate(ys)


def test_signal_needs_fusion_and_context(default):
    """Logistic regression: one modality < all modalities < all + neighbours."""
    train, test = default.get_split('train'), default.get_split('test')

    def accuracy(modalities, context=False):
        x_tr, y_tr = _features(train, modalities, context)
        x_te, y_te = _features(test, modalities, context)
        clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200, tol=1e-3))
        return clf.fit(x_tr, y_tr).score(x_te, y_te)

    y_test = np.concatenate([d['labels'] for d in test])
    majority = np.bincount(y_test).max() / len(y_test)
    single = {m: accuracy((m, )) for m in default.modalities}
    fused = accuracy(default.modalities)
    context = accuracy(default.modalities, context=True)
    assert min(single.values()) > majority + 0.07, (single, majority)
    assert fused > max(single.values()) + 0.1, (single, fused)
    assert 0.45 <= fused <= 0.65, fused
    assert context > fused + 0.1, (fused, context)

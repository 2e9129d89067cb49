"""The feature recipe of extracted files reaches the dataset's metainfo (and from there
every checkpoint's meta.dataset_meta)."""
import numpy as np

from vega_mm.datasets import ConversationDataset, save_native


def _write(path, extra):
    rng = np.random.default_rng(0)
    dialogues = [dict(dialogue_id=f'd{i}',
                      features=dict(text=rng.normal(size=(3, 4)).astype(np.float32),
                                    audio=rng.normal(size=(3, 2)).astype(np.float32)),
                      speakers=np.array([0, 1, 0]), labels=np.array([0, 1, 1]))
                 for i in range(3)]
    return save_native(str(path), dialogues, ('a', 'b'),
                       dict(train=['d0'], val=['d1'], test=['d2']),
                       speaker_names=('Ann', 'Bob'), extra=extra)


def test_recipe_of_the_kept_modalities(tmp_path):
    stats = {m: dict(mean=[0.0] * d, std=[1.0] * d) for m, d in (('text', 4), ('audio', 2))}
    extra = dict(created_by='vega_mm.features.extract_features', standardized=True,
                 extractors=dict(text=dict(type='TextFeatureExtractor', dim=4),
                                 audio=dict(type='OpenSmileExtractor', dim=2)),
                 feature_stats=stats)
    ds = ConversationDataset(_write(tmp_path / 'f.npz', extra), modalities=('text', ))
    recipe = ds.metainfo['feature_recipe']
    assert recipe['extractors'] == dict(text=dict(type='TextFeatureExtractor', dim=4))
    assert recipe['feature_stats'] == dict(text=stats['text'])
    assert recipe['standardized'] is True
    assert ds.metainfo['speaker_names'] == ('Ann', 'Bob')


def test_no_recipe_without_extractor_settings(tmp_path):
    ds = ConversationDataset(_write(tmp_path / 'f.npz', dict(source='converted pickle')))
    assert ds.metainfo['feature_recipe'] is None

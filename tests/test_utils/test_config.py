"""The config's one ``modalities`` declaration reaches every part that reads it."""
from pathlib import Path

import pytest
from mmengine.config import Config

from vega_mm.utils import apply_modalities

CONFIGS = Path(__file__).parents[2] / 'configs'


def _packs(dataset):
    return [t for t in dataset.pipeline if t['type'] == 'PackConversationInputs']


def test_text_only_config_declares_its_modality_once():
    # the file says it once, at the top level ...
    text = (CONFIGS / 'vega' / 'vega_meld_text.py').read_text()
    assert [line for line in text.splitlines() if line.startswith('modalities')] == [
        "modalities = ('text', )"]
    code = '\n'.join(line for line in text.splitlines() if not line.startswith('#'))
    assert 'branches' not in code and 'kd_weights' not in code and 'pipeline' not in code
    # ... and after applying it, the model and every dataset and pipeline agree
    cfg = apply_modalities(Config.fromfile(str(CONFIGS / 'vega' / 'vega_meld_text.py')))
    assert cfg.model.modalities == ('text', )
    for split in ('train', 'val', 'test'):
        dataset = cfg[f'{split}_dataloader'].dataset
        assert dataset.modalities == ('text', )
        assert [p['modalities'] for p in _packs(dataset)] == [('text', )]


def test_every_conversation_config_declares_its_modalities():
    for path in sorted(CONFIGS.glob('vega/*.py')) + sorted(CONFIGS.glob('sdt/*.py')):
        cfg = Config.fromfile(str(path))
        if cfg.model.get('type') != 'ConversationClassifier':
            continue
        assert cfg.get('modalities'), path
        assert cfg.get('runner_type') == 'ConversationRunner', path
        for split in ('train', 'val', 'test'):
            dataset = cfg[f'{split}_dataloader'].dataset
            # no second declaration that could disagree with the first
            assert 'modalities' not in dataset, path
            assert all('modalities' not in p for p in _packs(dataset)), path


def test_bad_declarations_name_the_key():
    with pytest.raises(ValueError, match=r"config key modalities=\('smell',\)"):
        apply_modalities(Config(dict(modalities=('smell', ))))
    with pytest.raises(ValueError, match='non-empty subset'):
        apply_modalities(Config(dict(modalities=())))
    # a transform's own modalities must be declared ones (checked before any data is read)
    loader = dict(dataset=dict(type='ConversationDataset', pipeline=[
        dict(type='FeatureDimMask', modalities=('text', 'visual')),
        dict(type='PackConversationInputs')]))
    with pytest.raises(ValueError, match=r"train_dataloader.dataset.pipeline\[0\].modalities="
                       r"\('text', 'visual'\): \['visual'\] not among the declared"):
        apply_modalities(Config(dict(modalities=('text', 'audio'), train_dataloader=loader)))
    # a config without the key is left alone
    cfg = Config(dict(model=dict(type='ImageClassifier')))
    assert apply_modalities(cfg).to_dict() == dict(model=dict(type='ImageClassifier'))

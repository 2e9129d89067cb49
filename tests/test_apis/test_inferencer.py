"""ConversationInferencer: from a transcript to the predictions the feature file gives."""
import json

import numpy as np
import pytest

from mmpretrain.apis import BaseInferencer

from vega_mm.apis import ConversationInferencer, init_model
from vega_mm.datasets.formats import load_conversations
from vega_mm.structures.records import RECORD_KEYS


def _by_utterance(results):
    return [(r['utterance_id'], r['pred_class'], list(r['pred_scores'].values()))
            for r in results]


def test_jsonl_transcript_equals_extracted_feature_file(text_model, transcripts,
                                                         feature_file):
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    from_text = inferencer(str(transcripts['test']), batch_size=3)
    test_split = load_conversations(feature_file).get_split('test')
    from_file = inferencer(test_split, batch_size=2)
    assert len(from_text) == len(from_file) == sum(len(d['labels']) for d in test_split)
    for a, b in zip(from_text, from_file):
        assert a['utterance_id'] == b['utterance_id']
        assert a['pred_class'] == b['pred_class']
        np.testing.assert_allclose(list(a['pred_scores'].values()),
                                   list(b['pred_scores'].values()), atol=1e-5)
        np.testing.assert_allclose(list(a['anchor_similarity'].values()),
                                   list(b['anchor_similarity'].values()), atol=1e-5)
    # the gold label beside the prediction: the table's label column, the file's labels
    gold = [line['label'] for line in map(json.loads,
                                          transcripts['test'].read_text().splitlines())]
    classes = inferencer.classes
    assert [r['gt_class'] for r in from_text] == gold
    assert [r['gt_label'] for r in from_text] == [classes.index(g) for g in gold]
    assert [r['gt_label'] for r in from_file] == [k for d in test_split for k in d['labels']]
    assert [r['gt_class'] for r in from_file] == [
        classes[k] for d in test_split for k in d['labels']]
    assert 'label' not in from_text[0] and 'label_index' not in from_text[0]
    # the records are the model's own logits: softmax of the fused label-space branch
    # (the published setting), cosine = anchor logits / 100, computed here from
    # forward(mode='tensor') without the head's prediction writer
    import torch
    from vega_mm.datasets import conversation_collate
    model = init_model(cfg, ckpt)
    pack = inferencer.pipeline
    data = model.data_preprocessor(
        conversation_collate([pack(dict(d, sample_idx=i)) for i, d in enumerate(test_split)]))
    with torch.no_grad():
        logits = model(data['inputs'], mode='tensor')
    scores = logits['fused'].softmax(-1).numpy()
    np.testing.assert_allclose([list(r['pred_scores'].values()) for r in from_file],
                               scores, atol=1e-5)
    assert [r['pred_label'] for r in from_file] == scores.argmax(-1).tolist()
    assert [r['pred_class'] for r in from_file] == [classes[k] for k in scores.argmax(-1)]
    np.testing.assert_allclose([r['pred_score'] for r in from_file], scores.max(-1),
                               atol=1e-5)
    np.testing.assert_allclose([list(r['anchor_similarity'].values()) for r in from_file],
                               (logits['anchor_fused'] / 100.0).numpy(), atol=1e-5)


def test_outputs_per_utterance(text_model):
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt, device='cpu')
    assert str(inferencer.extractors['text'].device) == 'cpu'  # the encoder follows
    results = inferencer([dict(speaker='Ross', text='we were on a break!'),
                          dict(speaker='Rachel', text='oh my god.')])
    assert [r['speaker'] for r in results] == ['Ross', 'Rachel']
    classes = inferencer.classes
    assert len(classes) == 7
    for r in results:
        assert set(r['pred_scores']) == set(classes) == set(r['anchor_similarity'])
        assert abs(sum(r['pred_scores'].values()) - 1) < 1e-5
        assert all(-1 - 1e-5 <= v <= 1 + 1e-5 for v in r['anchor_similarity'].values())
        assert r['pred_class'] == max(r['pred_scores'], key=r['pred_scores'].get)
        assert set(r['branch_predictions']) == {'fused', 'text', 'anchor_fused',
                                                'anchor_text'}
        assert r['branch_predictions']['fused'] == r['pred_class']  # predict_with='label'
        assert 'gt_label' not in r and 'gt_class' not in r  # no gold label given
        # mmpretrain's names and types: an index, its class, its probability
        assert isinstance(r['pred_label'], int) and classes[r['pred_label']] == r['pred_class']
        assert r['pred_score'] == r['pred_scores'][r['pred_class']]
        assert list(r) == [k for k in RECORD_KEYS if k in r]  # one key order everywhere
        assert 'start' not in r and r['dialogue_id'] == 'conversation_0'


def test_the_base_inferencer_contract(text_model, tmp_path):
    """mmpretrain's __call__: keyword dispatch (an unknown keyword is refused),
    return_datasamples, and visualize drawing the timeline of a timed conversation."""
    from vega_mm.structures import ConversationDataSample
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    assert type(inferencer).__call__ is BaseInferencer.__call__
    assert inferencer.config is inferencer.model.cfg and not hasattr(inferencer.model,
                                                                     '_config')
    timed = dict(dialogue_id='talk 1', utterances=[
        dict(speaker='Ross', text='we were on a break!', start=0.5, end=2.0),
        dict(speaker='Rachel', text='oh my god.', start=2.4, end=3.1)])
    samples = inferencer(timed, return_datasamples=True)
    assert len(samples) == 1 and isinstance(samples[0], ConversationDataSample)
    assert samples[0].metainfo['texts'] == ['we were on a break!', 'oh my god.']
    records = inferencer(timed, show_dir=str(tmp_path / 'pics'))
    assert records == inferencer.postprocess(samples)
    assert [(r['start'], r['end']) for r in records] == [(0.5, 2.0), (2.4, 3.1)]
    assert (tmp_path / 'pics' / 'talk_1_timeline.png').stat().st_size > 10_000
    with pytest.raises(ValueError, match='unknown argument'):
        inferencer(timed, show=True)
    with pytest.raises(ValueError, match=r"input 0: a dict with keys \['dialogue_id', "
                       r"'turns'\]; expected a conversation"):
        inferencer(dict(dialogue_id='x', turns=[]))


def test_unknown_speakers_share_other_or_fail(text_model, train_meta):
    cfg, ckpt = text_model
    names = train_meta['speaker_names']
    assert names[-1] == 'other'  # the transcript has more speakers than the 4 kept
    inferencer = ConversationInferencer(cfg, ckpt)
    from vega_mm.apis.recipe import speaker_indices
    idx = speaker_indices([names[0], f'  {names[0].upper()} ', 'Nobody', 1], names,
                          len(names), 'test')
    assert idx.tolist() == [0, 0, len(names) - 1, 1]  # spelling-insensitive, like extraction
    r = inferencer([dict(speaker=names[0], text='yes'), dict(speaker='Nobody', text='no')])
    assert len(r) == 2
    with pytest.raises(ValueError, match="speaker 'Nobody' is not one the model"):
        speaker_indices(['Nobody'], names[:-1], len(names) - 1, 'test')
    with pytest.raises(ValueError, match='unknown keys'):
        inferencer([dict(speaker='x', txt='oops')])


def test_a_meld_csv_table_reads_like_the_jsonl_transcript(text_model, meld_like_tables,
                                                          transcripts):
    """MELD's CSV layout and the generic JSONL transcript of the same dialogues give the
    same predictions (tables the tests write: no shared data)."""
    tables = meld_like_tables
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    from_jsonl = _by_utterance(inferencer(str(transcripts['test'])))
    from_csv = _by_utterance(inferencer(str(tables / 'dev_sent_emo.csv')))
    assert len(from_csv) > len(from_jsonl)  # the tables have 6 dev dialogues, the JSONL 4
    for (uid_a, label_a, p_a), (uid_b, label_b, p_b) in zip(from_csv, from_jsonl):
        assert (uid_a, label_a) == (uid_b, label_b)
        np.testing.assert_allclose(p_a, p_b, atol=1e-5)


def test_inputs_are_dispatched_by_the_format_registry(text_model, transcripts, tmp_path):
    """A table under another name is still a table; an empty text is refused as the
    table reader refuses it; an unknown file names the accepted suffixes."""
    from vega_mm.conversations import ConversationTableError
    cfg, ckpt = text_model
    inferencer = ConversationInferencer(cfg, ckpt)
    renamed = tmp_path / 'transcript.txt'
    renamed.write_bytes(transcripts['test'].read_bytes())
    assert _by_utterance(inferencer(str(renamed))) == _by_utterance(
        inferencer(str(transcripts['test'])))
    with pytest.raises(ConversationTableError, match=r"conversation 'c', utterance 1: text is "
                       r"empty \(dialogue 'c', utterance '1'\)"):
        inferencer(dict(dialogue_id='c', utterances=[dict(text='hi'), dict(text='  ')]))
    notes = tmp_path / 'notes.txt'
    notes.write_text('not a table\n')
    with pytest.raises(ValueError, match=r"notes\.txt: not a format .*\(\.pkl, \.pickle, "
                       r"\.npz\) or a conversation table \(\.csv, \.tsv, \.jsonl, \.ndjson, "
                       r"\.srt, \.vtt\)"):
        inferencer(str(notes))

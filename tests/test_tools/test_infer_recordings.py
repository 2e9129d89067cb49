"""tools/infer.py on recordings: a transcript's utterances and times (SRT/VTT in and out,
a timeline picture), shards that merge into one process's result, and the bad inputs
a hurried user gives (each a clear error, never an empty table with exit 0).

The speech-recognition path (voice-activity detection and Whisper) is tested in
``test_infer_recording_asr.py``; everything here runs without Whisper weights."""
import json

import numpy as np
import pytest

from tests.inference_fixtures import SRT, video_without_sound
from tests.test_tools.test_infer_tool import _run
from tests.test_features.conftest import write_wav
from tests.test_tools.common import load_tool
from vega_mm.apis.recording import check_streams, recording_dialogue
from vega_mm.apis.recipe import RecipeError
from vega_mm.conversations import ConversationTableError
from vega_mm.conversations.subtitles import load_transcript
from vega_mm.speech.media import MediaError, probe_media



@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('tools/infer.py')


@pytest.fixture
def model_files(causal_model, tmp_path):
    cfg, ckpt = causal_model
    config = str(tmp_path / 'model.py')
    cfg.dump(config)
    return config, ckpt


@pytest.fixture
def recording(tmp_path):
    wav = write_wav(tmp_path / 'scene.wav', seconds=4.0)
    srt = tmp_path / 'scene.srt'
    srt.write_text(SRT, encoding='utf-8')
    return wav, srt


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_recording_with_subtitles_gives_timed_predictions_subtitles_and_a_timeline(
        infer_tool, model_files, recording, tmp_path, monkeypatch):
    config, ckpt = model_files
    wav, srt = recording
    out = tmp_path / 'scene.jsonl'
    show = tmp_path / 'show'
    _run(infer_tool, monkeypatch, [config, ckpt, str(wav), '--transcript', str(srt),
                                   '--out', str(out), '--show-dir', str(show)])
    preds = _lines(out)
    assert [p['speaker'] for p in preds] == ['ROSS', 'RACHEL', 'ROSS']
    assert [(p['start'], p['end']) for p in preds] == [(0.2, 1.4), (1.6, 2.9), (3.0, 3.9)]
    assert preds[0]['text'] == 'We were on a break!'
    png = show / 'scene_timeline.png'
    assert png.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    # the same run with subtitles out: they read back as the transcript, with the labels
    for suffix in ('.srt', '.vtt'):
        sub = tmp_path / f'labelled{suffix}'
        _run(infer_tool, monkeypatch, [config, ckpt, str(wav), '--transcript', str(srt),
                                       '--out', str(sub)])
        back = load_transcript(str(sub)).utterances
        assert [(u.speaker, u.text, u.start, u.end) for u in back] == \
            [(p['speaker'], p['text'], p['start'], p['end']) for p in preds]
        text = sub.read_text(encoding='utf-8')
        for p in preds:
            top = p['pred_scores'][p['pred_class']]
            assert f"[{p['pred_class']} {top:.2f}]" in text


def test_a_transcript_without_speakers_has_one_speaker(model_files, recording, tmp_path,
                                                       causal_model):
    wav, _ = recording
    srt = tmp_path / 'plain.srt'
    srt.write_text(SRT.replace('ROSS: ', '').replace('RACHEL: ', ''), encoding='utf-8')
    dialogue = recording_dialogue(str(wav), transcript=str(srt), log=lambda s: None)
    assert {u.speaker for u in dialogue.utterances} == {'speaker'}
    assert all(u.media == str(wav) for u in dialogue.utterances)


def _bad_inputs(tmp_path, wav):
    corrupt = tmp_path / 'corrupt.mp4'
    corrupt.write_bytes(b'\x00\x01not a video' * 100)
    late = tmp_path / 'late.srt'
    late.write_text(SRT.replace('00:00:03,000 --> 00:00:03,900',
                                '00:00:09,000 --> 00:00:09,900'), encoding='utf-8')
    empty = tmp_path / 'empty.srt'
    empty.write_text('\n\n', encoding='utf-8')
    return {
        'corrupt recording': ([str(corrupt), '--transcript', str(late)],
                              'cannot open recording'),
        'cue past the media': ([str(wav), '--transcript', str(late)],
                               'cue starts at 00:00:09'),
        'empty transcript': ([str(wav), '--transcript', str(empty)], 'empty'),
        'missing recording': ([str(tmp_path / 'nope.wav')], 'does not exist'),
        'transcript of two inputs': ([str(wav), str(wav), '--transcript', str(late)],
                                     'exactly one recording'),
        'subtitles of two inputs': ([str(wav), str(wav), '--out', 'x.srt'],
                                    'subtitles hold one conversation'),
    }


def test_bad_recordings_and_transcripts_are_clear_errors(infer_tool, model_files, recording,
                                                        tmp_path, monkeypatch):
    """Each a one-line ``error: ...`` exit (SystemExit with the message), never a
    traceback (an exception other than SystemExit fails the test) and no output."""
    config, ckpt = model_files
    wav, _ = recording
    for case, (args, message) in _bad_inputs(tmp_path, wav).items():
        extra = [] if '--out' in args else ['--out', str(tmp_path / 'p.jsonl')]
        with pytest.raises(SystemExit) as exc:
            _run(infer_tool, monkeypatch, [config, ckpt, *args, *extra])
        assert exc.value.code != 0, case
        assert message in str(exc.value.code), (case, exc.value.code)
        assert not (tmp_path / 'p.jsonl').exists(), case


def test_overlapping_cues_are_reported_and_kept(recording, tmp_path):
    wav, _ = recording
    srt = tmp_path / 'overlap.srt'
    srt.write_text(SRT.replace('00:00:01,600', '00:00:01,000'), encoding='utf-8')
    notes = []
    dialogue = recording_dialogue(str(wav), transcript=str(srt), log=notes.append)
    assert len(dialogue) == 3
    assert len(notes) == 1 and 'cues 1 and 2 overlap by 0.40 s' in notes[0]


def test_a_model_needing_a_stream_the_recording_lacks_is_refused(recording, tmp_path):
    wav, srt = recording
    info = probe_media(str(wav))
    assert info['audio'] and not info['video'] and info['duration'] == pytest.approx(4.0)
    with pytest.raises(RecipeError, match='no video stream'):
        check_streams(str(wav), info, ('text', 'visual'), str(srt))
    silent = video_without_sound(tmp_path / 'silent.mp4')
    info = probe_media(str(silent))
    assert info['video'] and not info['audio']
    with pytest.raises(RecipeError, match='uses audio features'):
        check_streams(str(silent), info, ('text', 'audio'), str(srt))
    with pytest.raises(RecipeError, match='no audio stream to transcribe'):
        recording_dialogue(str(silent), transcriber=object(), log=lambda s: None)
    # with a transcript a text model needs no sound at all
    assert len(recording_dialogue(str(silent), transcript=str(srt), log=lambda s: None)) == 3
    with pytest.raises(MediaError, match='does not exist'):
        probe_media(str(tmp_path / 'missing.mp4'))


def _same_predictions(got, want):
    """Equal records; numbers to 1e-6 (a shard runs each input as its own batch, the
    single run pads several dialogues into one, which moves the last bits)."""
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert a.keys() == b.keys()
        for k in a:
            if isinstance(a[k], dict) and all(isinstance(v, float) for v in a[k].values()):
                assert a[k].keys() == b[k].keys()
                assert np.allclose(list(a[k].values()), list(b[k].values()), atol=1e-6)
            else:
                assert a[k] == b[k], k


def test_shards_merge_into_the_single_run(infer_tool, model_files, transcripts, tmp_path,
                                          monkeypatch):
    config, ckpt = model_files
    rows = [json.loads(line) for line in transcripts['test'].read_text().splitlines()]
    inputs = []
    for d in sorted({r['dialogue_id'] for r in rows}):
        path = tmp_path / f'dialogue_{d}.jsonl'
        path.write_text(''.join(json.dumps(r) + '\n' for r in rows if r['dialogue_id'] == d))
        inputs.append(str(path))
    assert len(inputs) >= 3
    single = tmp_path / 'single.jsonl'
    _run(infer_tool, monkeypatch, [config, ckpt, *inputs, '--out', str(single)])
    out = tmp_path / 'sharded.jsonl'
    _run(infer_tool, monkeypatch, [config, ckpt, *inputs, '--out', str(out), '--shard', '1/2'])
    assert not out.exists()
    with pytest.raises(SystemExit, match='have no predictions yet'):
        _run(infer_tool, monkeypatch, [config, ckpt, *inputs, '--out', str(out), '--merge'])
    _run(infer_tool, monkeypatch, [config, ckpt, *inputs, '--out', str(out), '--shard', '2/2'])
    _run(infer_tool, monkeypatch, [config, ckpt, *inputs, '--out', str(out), '--merge'])
    _same_predictions(_lines(out), _lines(single))
    # the parts are the model's: another checkpoint refuses to mix its predictions in
    other = tmp_path / 'other.pth'
    other.write_bytes(open(ckpt, 'rb').read() + b'\0')
    with pytest.raises(SystemExit, match='other settings'):
        _run(infer_tool, monkeypatch, [config, str(other), *inputs, '--out', str(out),
                                       '--shard', '1/2'])
    with pytest.raises(SystemExit) as exc:
        _run(infer_tool, monkeypatch, [config, ckpt, *inputs, '--out', str(out),
                                       '--shard', '3/2'])
    assert exc.value.code == 2


def test_a_failed_input_of_a_shard_is_recorded_and_the_shard_exits_1(
        infer_tool, model_files, transcripts, tmp_path, monkeypatch, capsys):
    config, ckpt = model_files
    bad = tmp_path / 'bad.wav'
    bad.write_bytes(b'RIFF' + b'\0' * 64)
    out = tmp_path / 'p.jsonl'
    with pytest.raises(SystemExit) as exc:
        _run(infer_tool, monkeypatch, [config, ckpt, str(transcripts['test']), str(bad),
                                       '--out', str(out), '--shard', '1/1'])
    assert exc.value.code == 1
    assert 'cannot open recording' in capsys.readouterr().err
    with pytest.raises(SystemExit, match='bad.wav.*cannot open recording'):
        _run(infer_tool, monkeypatch, [config, ckpt, str(transcripts['test']), str(bad),
                                       '--out', str(out), '--merge'])


def test_a_cue_that_is_no_text_is_named(recording, tmp_path):
    wav, _ = recording
    srt = tmp_path / 'bad.srt'
    srt.write_text('1\n00:00:00,200 --> 00:00:xx\nROSS: hi\n', encoding='utf-8')
    with pytest.raises(ConversationTableError, match='bad.srt'):
        recording_dialogue(str(wav), transcript=str(srt), log=lambda s: None)

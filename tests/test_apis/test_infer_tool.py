"""tools/infer.py: a JSONL transcript in, predictions out; --live from stdin (run in this
process: the tool is argument parsing around the package)."""
import io
import json
import sys

import pytest

from tests.test_tools.common import load_tool


@pytest.fixture(scope='module')
def infer_tool():
    return load_tool('tools/infer.py')


def _run(tool, monkeypatch, args, stdin=None):
    monkeypatch.setattr(sys, 'argv', ['infer.py', *args])
    if stdin is not None:
        monkeypatch.setattr(sys, 'stdin', io.StringIO(stdin))
    tool.main()


def test_transcript_to_jsonl_and_live(infer_tool, causal_model, transcripts, tmp_path,
                                      monkeypatch, capsys):
    cfg, ckpt = causal_model
    config = str(tmp_path / 'model.py')
    cfg.dump(config)
    out = tmp_path / 'pred.jsonl'
    _run(infer_tool, monkeypatch, [config, ckpt, str(transcripts['test']), '--out', str(out)])
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == len(transcripts['test'].read_text().splitlines())
    first = [p for p in preds if p['dialogue_id'] == preds[0]['dialogue_id']]
    capsys.readouterr()
    live_out = tmp_path / 'live.json'
    lines = [f"{p['speaker']}: {p['text']}\n" for p in first]
    lines.insert(1, 'Ross:  \n')  # an empty text: reported and skipped
    _run(infer_tool, monkeypatch, [config, ckpt, '--live', '--out', str(live_out)],
         stdin=''.join(lines))
    live = json.loads(live_out.read_text())['predictions']
    # the first dialogue, streamed line by line: the same labels (a causal model)
    assert [p['label'] for p in live] == [p['label'] for p in first]
    captured = capsys.readouterr()
    assert "skipped: conversation 'live', utterance 0: text is empty" in captured.err
    printed = [line for line in captured.out.splitlines() if line.startswith('[')]
    assert len(printed) == len(first) and printed[0].endswith(
        f"->  {live[0]['label']} ({live[0]['probabilities'][live[0]['label']]:.2f})")


def test_unknown_output_suffix_fails_before_any_work(infer_tool, monkeypatch, tmp_path):
    with pytest.raises(SystemExit, match='error: .*must end with'):
        _run(infer_tool, monkeypatch, ['no_config.py', 'no.pth', 'x.jsonl', '--out',
                                       str(tmp_path / 'p.txt')])

"""tools/extract_features.py end to end (in this process: the tool parses arguments
around vega_mm.apis.extract_command): tables the tests write -> a feature file, errors
as exit codes with one line naming the problem, shards then a merge."""
import json
import os

import pytest

from tests.test_features.conftest import meld_like  # noqa: F401
from tests.test_features.test_shards import _table as shard_table
from tests.test_tools.common import load_tool
from vega_mm.datasets.formats import load_native


def test_command_line(meld_like, tiny_text_model, tmp_path, capsys):
    cli = load_tool('tools/extract_features.py')
    out = str(tmp_path / 'cli.npz')
    rc = cli.main([out, '--meld', str(meld_like), '--text-model', tiny_text_model,
                   '--max-speakers', '4', '--quiet', '--device', 'cpu'])
    assert rc == 0
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index('{\n'):])['counts']['test']['dialogues'] == 6
    coll = load_native(out)
    assert coll.num_speakers == 4 and coll.speaker_names[-1] == 'other'
    assert {s: len(v) for s, v in coll.splits.items()} == dict(train=18, val=2, test=6)
    bad = tmp_path / 'bad.csv'
    bad.write_text('dialogue_id,utterance_id,text,label\nd,0,hi,joy\nd,0,ho,joy\n')
    rc = cli.main([str(tmp_path / 'bad.npz'), '--train', str(bad), '--text-model',
                   tiny_text_model, '--quiet'])
    assert rc == 2 and 'duplicated (dialogue, utterance) id' in capsys.readouterr().err


@pytest.mark.parametrize('argv, message', [
    (['--finetune-epochs', '-1'], '--finetune-epochs must be >= 0'),
    (['--finetune-patience', '2'], '--finetune-patience only apply with --finetune-epochs'),
    (['--finetune-lr', '1e-4', '--finetune-max-length', '96'],
     '--finetune-lr, --finetune-max-length only apply with --finetune-epochs'),
    (['--text-context', '-1'], '--text-context must be >= 0'),
])
def test_command_line_refuses_options_that_would_be_ignored(argv, message, tmp_path, capsys):
    cli = load_tool('tools/extract_features.py')
    with pytest.raises(SystemExit) as exc:
        cli.main([str(tmp_path / 'x.npz'), '--meld', str(tmp_path), *argv])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_command_line_shards(tmp_path, tiny_text_model, capsys):
    tables = shard_table(tmp_path)
    cli = load_tool('tools/extract_features.py')
    out = str(tmp_path / 'c.npz')
    base = [out, '--train', tables[0].path, '--train-media', str(tmp_path), '--classes',
            'meld', '--modalities', 'text', '--text-model', tiny_text_model, '--quiet',
            '--device', 'cpu', '--threads', '1']
    for bad, why in [('5/4', 'the shard index must be in 1..4'),
                     ('0/4', 'the shard index must be in 1..4'),
                     ('x', 'expected I/N')]:
        assert cli.main(base + ['--shard', bad]) == 2
        assert f"error: --shard '{bad}': {why}" in capsys.readouterr().err
    assert cli.main(base + ['--shard', '2/3']) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index('{\n'):])['shard'] == '2/3'
    assert 'shard 2/3: 2 dialogue(s) in' in printed
    assert cli.main(base + ['--merge']) == 1
    assert 'have no part yet' in capsys.readouterr().err
    for i in (1, 3):
        assert cli.main(base + ['--shard', f'{i}/3']) == 0
    assert cli.main(base + ['--merge']) == 0
    assert os.path.isfile(out)
    with pytest.raises(SystemExit):
        cli.main(base + ['--shard', '1/2', '--merge'])

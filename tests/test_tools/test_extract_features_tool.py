"""tools/extract_features.py end to end (in this process: the tool parses arguments
around vega_mm.apis.extract_command): tables the tests write -> a feature file, errors
as exit codes with one line naming the problem, shards then a merge, the recorded
recipes that inference rebuilds; and the text-encoder speed benchmark on a local model."""
import json
import os

import numpy as np
import pytest

from tests.test_features.conftest import meld_dir, meld_like, meld_slice  # noqa: F401
from tests.test_features.test_shards import _table as shard_table
from tests.test_features.test_whisper_audio import _wav_table
from tests.test_tools.common import load_tool
from tests.whisper_fixtures import TINY_WHISPER_DIM
from vega_mm.datasets.formats import load_native
from vega_mm.features import TableSpec, WhisperAudioExtractor, meld_tables
from vega_mm.features.parts import PartStore


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


def test_text_context_is_recorded_and_rebuilt_for_new_conversations(meld_slice,
                                                                    tiny_text_model, tmp_path):
    """Features made with --text-context record it in the file's recipe; a trained
    model's inference rebuilds the same extractor and gives the same features."""
    from vega_mm.apis.recipe import build_recipe_extractors, dialogue_features
    from vega_mm.datasets.conversation_dataset import feature_recipe
    from vega_mm.conversations import load_tables
    cli = load_tool('tools/extract_features.py')
    out = str(tmp_path / 'ctx.npz')
    assert cli.main([out, '--meld', str(meld_slice), '--text-model', tiny_text_model,
                     '--text-context', '3', '--quiet', '--device', 'cpu']) == 0
    coll = load_native(out)
    recipe = feature_recipe(coll.extra, ('text', ))
    assert recipe['extractors']['text']['context'] == 3
    ext = build_recipe_extractors(recipe, ('text', ), dict(text=16), out)['text']
    assert ext.context == 3 and ext.speaker_tags
    dialogues = load_tables(meld_tables(meld_slice), log=lambda s: None).dialogues
    first = next(d for d in dialogues if d.split == 'test')
    stored = next(d for d in coll.dialogues if d['dialogue_id'] == first.dialogue_id)
    again = dialogue_features([first], dict(text=ext), recipe)[0]['text']
    np.testing.assert_allclose(again, stored['features']['text'], atol=1e-5)
    plain = build_recipe_extractors(dict(recipe, extractors=dict(
        text={k: v for k, v in recipe['extractors']['text'].items()
              if k not in ('context', 'speaker_tags')})), ('text', ), dict(text=16), out)
    assert not np.allclose(dialogue_features([first], plain, recipe)[0]['text'][1:],
                           again[1:])


def test_command_line_records_the_extractor_and_the_recipe_rebuilds_it(tiny_whisper_model,
                                                                       tmp_path):
    """--audio-extractor whisper writes Whisper features whose recipe (model digest,
    pooling, computation type) a trained model's inference rebuilds into the same
    extractor, giving the same (standardised) features."""
    from vega_mm.apis.recipe import build_recipe_extractors, dialogue_features
    from vega_mm.datasets.conversation_dataset import feature_recipe
    from vega_mm.conversations import load_tables
    from vega_mm.encoders.whisper import asr_model_identity
    table = _wav_table(tmp_path)
    cli = load_tool('tools/extract_features.py')
    out = str(tmp_path / 'w.npz')
    assert cli.main([out, '--train', str(table), '--train-media', str(tmp_path),
                     '--classes', 'meld', '--val-fraction', '0.25', '--modalities', 'audio',
                     '--audio-extractor', 'whisper', '--audio-model', tiny_whisper_model,
                     '--quiet', '--device', 'cpu', '--threads', '1']) == 0
    coll = load_native(out)
    assert coll.modalities == ('audio', ) and coll.feature_dims['audio'] == TINY_WHISPER_DIM
    rec = coll.extra['extractors']['audio']
    assert rec['type'] == 'WhisperAudioExtractor' and rec['pooling'] == 'mean'
    assert rec['weights'] == asr_model_identity(tiny_whisper_model)['sha256']
    assert rec['compute_type'] == 'float32' and rec['dim'] == TINY_WHISPER_DIM
    recipe = feature_recipe(coll.extra, ('audio', ))
    ext = build_recipe_extractors(recipe, ('audio', ), dict(audio=TINY_WHISPER_DIM),
                                  out)['audio']
    assert isinstance(ext, WhisperAudioExtractor)
    dialogues = load_tables([TableSpec(str(table), 'train', media_dir=str(tmp_path))],
                            classes='meld', val_fraction=0.25, log=lambda s: None).dialogues
    again = dialogue_features(dialogues, dict(audio=ext), recipe)
    for d, f in zip(dialogues, again):
        stored = next(x for x in coll.dialogues if x['dialogue_id'] == d.dialogue_id)
        np.testing.assert_allclose(f['audio'], stored['features']['audio'], atol=1e-5)
    from vega_mm.apis.recipe import RecipeError
    bad = json.loads(json.dumps(recipe))
    bad['extractors']['audio']['weights'] = '0' * 64
    with pytest.raises(RecipeError, match='weights digest'):
        build_recipe_extractors(bad, ('audio', ), dict(audio=TINY_WHISPER_DIM), out)


def test_the_speed_benchmark_runs_on_a_local_model(tiny_text_model, capsys):
    bench = load_tool('tools/benchmarks/bench_text_encoders.py')
    assert bench.main(['--models', tiny_text_model, 'no-such-model-here', '--utterances',
                       '20', '--batch-size', '8']) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith(f'| {tiny_text_model} |')]
    assert [r.split('|')[2].strip() for r in rows[-2:]] == ['0', '3']
    assert all(float(r.split('|')[4]) > 0 for r in rows)
    assert 'no-such-model-here: skipped' in out


def test_command_line_refuses_to_replace_a_feature_file_unless_overwrite(
        meld_slice, tiny_text_model, tmp_path, capsys):
    """Issue 35, item 4: last week's features are not lost to a mistyped --out."""
    cli = load_tool('tools/extract_features.py')
    out = tmp_path / 'old.npz'
    out.write_bytes(b'last week')
    argv = [str(out), '--meld', str(meld_slice), '--text-model', tiny_text_model, '--quiet',
            '--device', 'cpu']
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert f"output {str(out)!r} already exists (9 bytes" in err and '--overwrite' in err
    assert out.read_bytes() == b'last week' and not os.path.exists(str(out) + '.parts')
    assert cli.main(argv + ['--overwrite']) == 0
    assert load_native(str(out)).splits['test']


def test_ctrl_c_stops_cleanly_with_the_resume_command(meld_slice, tiny_text_model, tmp_path,
                                                      capsys, monkeypatch):
    """Issue 35, item 9: no traceback; the message says what was kept and how to resume,
    and the command it gives does resume."""
    cli = load_tool('tools/extract_features.py')
    out = str(tmp_path / 'stopped.npz')
    real_write = PartStore.write
    written = []

    def interrupted_write(self, dialogue, feats):
        if len(written) == 5:
            raise KeyboardInterrupt
        real_write(self, dialogue, feats)
        written.append(dialogue.dialogue_id)

    monkeypatch.setattr(PartStore, 'write', interrupted_write)
    argv = [out, '--meld', str(meld_slice), '--text-model', tiny_text_model, '--quiet',
            '--device', 'cpu', '--chunk-size', '4']
    assert cli.main(argv) == 130
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    assert f'interrupted: 5 finished dialogue(s) kept in {out}.parts/' in err
    command = err.split('Resume with the same command: ')[1].strip().split(' ')
    assert command[:2] == ['python', 'tools/extract_features.py'] and command[2:] == argv
    monkeypatch.setattr(PartStore, 'write', real_write)
    assert cli.main(command[2:]) == 0
    printed = capsys.readouterr().out
    assert json.loads(printed[printed.index('{\n'):])['reused'] == 5
    assert load_native(out).splits['train'] and not os.path.exists(out + '.parts')


def test_one_table_for_two_splits_is_refused(meld_slice, tmp_path, capsys):
    """Issue 35, item 5: --train T --test T would score the model on its training data."""
    cli = load_tool('tools/extract_features.py')
    table = str(meld_slice / 'train_sent_emo.csv')
    out = tmp_path / 'same.npz'
    assert cli.main([str(out), '--train', table, '--test', './' + os.path.relpath(table),
                     '--classes', 'meld', '--quiet']) == 2
    err = capsys.readouterr().err
    assert 'is given for both the train and the test split' in err
    assert not out.exists() and not os.path.exists(str(out) + '.parts')

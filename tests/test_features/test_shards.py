"""Extraction in shards: each shard stores its dialogues' parts, the merge writes the
file a single run writes (bit for bit), and processes may start on one parts folder
at the same time."""
import csv
import json
import os

import numpy as np
import pytest

from vega_mm.features import PartStore, TableSpec, extract_features
from vega_mm.features.extract import MissingPartsError
from .conftest import write_wav

QUIET = dict(progress=False, log=lambda msg: None)


def _table(tmp_path):
    """Seven dialogues over two wav files; d5's file is missing and d2's second segment
    runs past the end of its file (both are skipped with on_missing_media='skip')."""
    write_wav(tmp_path / 'a.wav', seconds=3.0)
    write_wav(tmp_path / 'b.wav', seconds=3.0, freq=440., seed=1)
    rows = [[f'd{d}', str(u), 'AB'[u % 2], f'turn {u} of {d}', 'joy' if (u + d) % 2 else
             'neutral', 'ab'[d % 2] + '.wav', u * 0.9, u * 0.9 + 0.9]
            for d in range(7) for u in range(3)]
    rows[5 * 3][5] = 'gone.wav'
    rows[2 * 3 + 1][7] = 5.0
    path = tmp_path / 'conv.csv'
    with open(path, 'w', newline='') as f:
        w = csv.writer(f)
        w.writerow(['dialogue_id', 'utterance_id', 'speaker', 'text', 'label', 'media',
                    'start', 'end'])
        w.writerows(rows)
    return [TableSpec(str(path), 'train', media_dir=str(tmp_path))]


def _arrays(path):
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def test_shards_then_merge_equal_a_single_run_bit_for_bit(tmp_path, tiny_text_model,
                                                          tiny_whisper_model):
    tables = _table(tmp_path)
    kw = dict(modalities=('text', 'audio'), classes='meld', val_fraction=0.3,
              on_missing_media='skip', chunk_size=2,
              text=dict(model=tiny_text_model, device='cpu'),
              audio=dict(type='WhisperAudioExtractor', model=tiny_whisper_model,
                         cpu_threads=1), **QUIET)
    single = str(tmp_path / 'single.npz')
    extract_features(single, tables, **kw)
    out = str(tmp_path / 'sharded.npz')
    first = extract_features(out, tables, shard='1/2', **kw)
    assert not os.path.exists(out) and os.path.isdir(out + '.parts')
    with pytest.raises(MissingPartsError, match=r"2 of 7 dialogue\(s\) have no part yet, "
                       r"e.g. \['train/d1', 'train/d3'\]"):
        extract_features(out, tables, merge=True, **kw)
    second = extract_features(out, tables, shard=(2, 2), **kw)
    # sorted ids d0..d6: shard 1 holds d0 d2 d4 d6, shard 2 d1 d3 d5
    assert (first['dialogues'], second['dialogues']) == (4, 3)
    assert [s['dialogue_id'] for s in first['skipped']] == ['train/d2']
    assert [s['dialogue_id'] for s in second['skipped']] == ['train/d5']
    assert first['computed'] + second['computed'] == 5
    again = extract_features(out, tables, shard='1/2', **kw)  # a shard run again resumes
    assert again['computed'] == 0 and again['reused'] == 3
    summary = extract_features(out, tables, merge=True, **kw)
    assert summary['computed'] == 0 and not os.path.exists(out + '.parts')
    a, b = _arrays(single), _arrays(out)
    assert sorted(a) == sorted(b)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    meta = json.loads(str(b['meta']))  # compared above, as the JSON text it is stored as
    assert [s['dialogue_id'] for s in meta['extra']['skipped']] == ['train/d5', 'train/d2']
    assert meta['extra']['extractors']['audio']['type'] == 'WhisperAudioExtractor'


def test_shard_options_are_checked(tmp_path):
    tables = _table(tmp_path)
    with pytest.raises(ValueError, match=r"shard '5/4': the shard index must be in 1\.\.4"):
        extract_features(str(tmp_path / 'x.npz'), tables, shard='5/4', **QUIET)
    with pytest.raises(ValueError, match='would delete the parts of the shards'):
        extract_features(str(tmp_path / 'x.npz'), tables, shard='1/4', overwrite=True,
                         **QUIET)
    with pytest.raises(FileNotFoundError, match=r'no parts to merge .*--shard I/N'):
        extract_features(str(tmp_path / 'x.npz'), tables, classes='meld', merge=True,
                         modalities=('text', ), **QUIET)


def test_processes_starting_together_share_one_manifest(tmp_path, monkeypatch):
    """The manifest is created once (exclusively); a process that found none and then
    lost the race to create it compares its settings with the winner's."""
    folder = tmp_path / 'p.parts'
    PartStore(str(folder)).open(dict(version=1, text='minilm'))
    (folder / 'x-0.npz').write_bytes(b'part')
    PartStore(str(folder)).open(dict(version=1, text='minilm'))  # same settings: kept
    assert (folder / 'x-0.npz').exists()
    with pytest.raises(RuntimeError, match=r"differs in: \['text'\]"):
        PartStore(str(folder)).open(dict(version=1, text='mpnet'))
    # the race: no manifest at the first look, then another process's is there
    late = tmp_path / 'q.parts'
    PartStore(str(late)).open(dict(version=1, text='minilm'))
    real, looks = PartStore._read_manifest, []

    def first_look_finds_none(self):
        looks.append(1)
        return None if len(looks) == 1 else real(self)
    monkeypatch.setattr(PartStore, '_read_manifest', first_look_finds_none)
    PartStore(str(late)).open(dict(version=1, text='minilm'))
    assert len(looks) == 2  # it compared with the manifest it could not create
    looks.clear()
    with pytest.raises(RuntimeError, match=r"differs in: \['text'\]"):
        PartStore(str(late)).open(dict(version=1, text='mpnet'))
    looks.clear()
    (late / 'x-0.npz').write_bytes(b'part')  # manifest and parts made since the first look
    PartStore(str(late)).open(dict(version=1, text='minilm'))
    assert (late / 'x-0.npz').exists()
    assert not [n for n in os.listdir(late) if n.startswith('.')]  # no temporary left
    # another process has made the folder, its manifest is still a temporary file
    (tmp_path / 'r.parts').mkdir()
    (tmp_path / 'r.parts' / '.manifest.99.json').write_text('{}')
    PartStore(str(tmp_path / 'r.parts')).open(dict(version=1))
    assert json.loads((tmp_path / 'r.parts' / 'manifest.json').read_text()) == dict(version=1)


def test_a_folder_just_made_by_another_process_is_not_refused(tmp_path):
    """A process that starts while another has created the parts folder but not yet its
    manifest joins it instead of failing ('other settings') or deleting it."""
    folder = tmp_path / 'p.parts'
    folder.mkdir()
    PartStore(str(folder)).open(dict(version=1, text='minilm'))
    PartStore(str(folder)).open(dict(version=1, text='minilm'))
    with pytest.raises(RuntimeError, match=r"differs in: \['text'\]"):
        PartStore(str(folder)).open(dict(version=1, text='mpnet'))

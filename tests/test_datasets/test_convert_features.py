import importlib.util
import os

import numpy as np
import pytest

from tests.utils import make_sdt_pickle, make_vega_pickle
from vega_mm.datasets import load_conversations, load_native

_TOOL = os.path.join(os.path.dirname(__file__), '..', '..', 'tools', 'convert_features.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('convert_features', _TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize('maker,dataset', [(make_sdt_pickle, 'iemocap'),
                                           (make_vega_pickle, 'meld')])
def test_convert_pickle(tool, tmp_path, capsys, maker, dataset):
    src = maker(str(tmp_path / 'in.pkl'), dataset=dataset, num_train=20)
    out = str(tmp_path / 'out.npz')
    assert tool.main([src, out, '--val-ratio', '0.2', '--val-seed', '3']) == 0
    printed = capsys.readouterr().out
    assert 'train: 16 dialogues' in printed and 'val: 4 dialogues' in printed
    assert 'text (32-d), audio (16-d), visual (8-d)' in printed
    assert f'written: {out}' in printed
    expected = load_conversations(src, val_ratio=0.2, val_seed=3)
    got = load_native(out)
    assert got.splits == expected.splits and got.classes == expected.classes
    assert got.num_speakers == expected.num_speakers
    for a, b in zip(expected.dialogues, got.dialogues):
        np.testing.assert_array_equal(a['features']['audio'], b['features']['audio'])
        np.testing.assert_array_equal(a['labels'], b['labels'])
    assert got.extra['source_format'] == expected.data_format


def test_convert_with_explicit_options_and_errors(tool, tmp_path, capsys):
    src = make_vega_pickle(str(tmp_path / 'in.pkl'))
    out = str(tmp_path / 'out.npz')
    assert tool.main([src, out, '--format', 'vega', '--classes', 'a,b,c,d,e,f']) == 0
    assert load_native(out).classes == ('a', 'b', 'c', 'd', 'e', 'f')
    capsys.readouterr()
    assert tool.main([src, out, '--format', 'sdt']) == 1
    assert 'accepts tuples of 12 or 13' in capsys.readouterr().err
    assert tool.main([str(tmp_path / 'none.pkl'), out]) == 1
    assert 'none.pkl: no such file' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        tool.main([src])


def test_convert_synthetic(tool, tmp_path, capsys):
    out = str(tmp_path / 'syn.npz')
    assert tool.main(['--synthetic', out]) == 0
    assert 'train: 200 dialogues' in capsys.readouterr().out
    coll = load_native(out)
    assert coll.feature_dims == dict(text=100, audio=60, visual=40)
    assert [len(coll.splits[s]) for s in ('train', 'val', 'test')] == [200, 40, 60]

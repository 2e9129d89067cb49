"""Atomic writes and file digests (vega_mm.utils.io)."""
import hashlib
import os

import numpy as np
import pytest

from vega_mm.utils.io import atomic_savez, atomic_write_json, file_digest, update_digest


def test_atomic_savez_writes_complete_files_only(tmp_path):
    path = tmp_path / 'sub' / 'a.npz'
    atomic_savez(str(path), dict(x=np.arange(3)))
    atomic_savez(str(path), dict(x=np.arange(4), y=np.ones(2)), compressed=True)
    with np.load(path) as npz:
        assert sorted(npz.files) == ['x', 'y'] and npz['x'].tolist() == [0, 1, 2, 3]
    mask = os.umask(0)
    os.umask(mask)
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~mask  # not mkstemp's 0600

    class Unsaveable:
        def __array__(self, *args, **kwargs):
            raise RuntimeError('cannot be saved')

    with pytest.raises(RuntimeError, match='cannot be saved'):
        atomic_savez(str(path), dict(x=Unsaveable()))
    with np.load(path) as npz:  # the previous file is intact, no temporary file is left
        assert npz['x'].tolist() == [0, 1, 2, 3]
    assert os.listdir(path.parent) == ['a.npz']
    with pytest.raises(TypeError):
        atomic_write_json(str(tmp_path / 'm.json'), dict(x=object()))
    assert not os.path.exists(tmp_path / 'm.json')


def test_file_digest_reads_in_chunks(tmp_path):
    data = os.urandom(10_000)
    path = tmp_path / 'w.bin'
    path.write_bytes(data)
    assert file_digest(str(path)) == hashlib.sha256(data).hexdigest()
    assert file_digest(str(path), 'sha1', chunk_size=999) == hashlib.sha1(data).hexdigest()
    h = update_digest(hashlib.sha1(b'head'), str(path), max_bytes=4096, chunk_size=1000)
    assert h.hexdigest() == hashlib.sha1(b'head' + data[:4096]).hexdigest()

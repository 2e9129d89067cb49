import os
import pickle
from collections import OrderedDict, defaultdict

import numpy as np
import pytest
import torch

from vega_mm.datasets.formats import UnsafePickleError, safe_load_pickle


class _Hostile:
    """Unpickling this would run a shell command that creates a marker file."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f'touch {self.marker}', )


def _dump(path, obj, protocol):
    with open(path, 'wb') as f:
        pickle.dump(obj, f, protocol=protocol)
    return str(path)


@pytest.mark.parametrize('protocol', [2, 3, 4, 5])
def test_loads_data_in_every_protocol(tmp_path, protocol):
    arrays = dict(f32=np.arange(6, dtype=np.float32).reshape(2, 3),
                  f64=np.ones((1, 2, 2)), i64=np.array([1, -1]), u8=np.zeros(3, np.uint8))
    obj = (arrays, {'a': [1, 2.5, 'x', b'raw', None, True]}, {'s1', 's2'}, frozenset([1]),
           OrderedDict(b=1), defaultdict(list, k=[1]), np.float32(1.5), np.int64(3),
           np.dtype('float32'), [np.zeros(0)], (1 + 2j, bytearray(b'ab')))
    out = safe_load_pickle(_dump(tmp_path / 'ok.pkl', obj, protocol))
    for k, v in arrays.items():
        np.testing.assert_array_equal(out[0][k], v)
        assert out[0][k].dtype == v.dtype
    assert out[1:6] == obj[1:6]
    assert out[6] == np.float32(1.5) and out[7] == 3 and out[8] == np.float32
    assert out[9][0].shape == (0, ) and out[10] == obj[10]


def test_hostile_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / 'pwned'
    path = _dump(tmp_path / 'evil.pkl', ({'d1': [1]}, _Hostile(marker)), 2)
    with pytest.raises(ValueError, match=r'evil\.pkl.*(posix|os|nt)\.system'):
        safe_load_pickle(path)
    assert not marker.exists()


@pytest.mark.parametrize('obj,name', [
    (eval, 'builtins.eval'),
    (torch.zeros(2), 'torch'),
    (np.array([object()], dtype=object), 'builtins.object'),
])
def test_other_globals_are_refused(tmp_path, obj, name):
    path = _dump(tmp_path / 'bad.pkl', obj, 4)
    with pytest.raises(UnsafePickleError) as info:
        safe_load_pickle(path)
    assert 'bad.pkl' in str(info.value) and name in str(info.value)


def test_missing_and_garbage_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.pkl'):
        safe_load_pickle(tmp_path / 'nothere.pkl')
    junk = tmp_path / 'junk.pkl'
    junk.write_bytes(b'this is not a pickle')
    with pytest.raises(ValueError, match='junk.pkl: not a readable pickle'):
        safe_load_pickle(junk)
    truncated = tmp_path / 'cut.pkl'
    truncated.write_bytes(pickle.dumps(list(range(100)))[:20])
    with pytest.raises(ValueError, match='cut.pkl'):
        safe_load_pickle(truncated)


def test_numpy_1_names_load_without_importing_numpy_core(tmp_path, recwarn):
    """Files written with numpy 1.x name ``numpy.core.multiarray``."""
    data = pickle.dumps((np.arange(4.0), np.float32(2)), protocol=2)
    data = data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray')
    assert b'numpy.core.multiarray' in data
    path = tmp_path / 'np1.pkl'
    path.write_bytes(data)
    arr, scalar = safe_load_pickle(path)
    np.testing.assert_array_equal(arr, np.arange(4.0))
    assert scalar == np.float32(2)
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]


def test_range_split_lists_load(tmp_path):
    path = _dump(tmp_path / 'r.pkl', {'trainVid': range(3, 7)}, 4)
    assert list(safe_load_pickle(path)['trainVid']) == [3, 4, 5, 6]

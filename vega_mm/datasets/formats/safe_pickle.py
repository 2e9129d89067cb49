"""A pickle reader that only rebuilds data (containers, scalars, numpy arrays).

The public feature files of SDT, MMGCN and VEGA are pickles. Unpickling runs whatever
callable the file names, so an ordinary ``pickle.load`` of a file downloaded from the web
can execute arbitrary code. :func:`safe_load_pickle` resolves only an allow-list of
globals: the builtin containers and scalars, and what numpy needs to rebuild arrays,
scalars and dtypes. Anything else is refused before it is called.
"""
import _compat_pickle
import importlib
import os
import pickle
from typing import Any, Callable, Dict, Tuple, Union

__all__ = ['safe_load_pickle', 'SafeUnpickler', 'UnsafePickleError', 'ALLOWED_GLOBALS']

PathLike = Union[str, 'os.PathLike[str]']

_BUILTIN_NAMES = ('dict', 'list', 'tuple', 'set', 'frozenset', 'int', 'float', 'complex',
                  'bool', 'str', 'bytes', 'bytearray', 'range', 'slice')

#: ``(module, name)`` pairs a data pickle may name. ``numpy.core`` (numpy 1.x) and
#: ``numpy._core`` (numpy 2.x) spell the same functions.
ALLOWED_GLOBALS = frozenset(
    [('builtins', n) for n in _BUILTIN_NAMES] + [
        ('collections', 'OrderedDict'),
        ('collections', 'defaultdict'),
        # Python 3 pickles ``bytes`` as ``_codecs.encode(str, 'latin1')`` in protocol < 3.
        ('_codecs', 'encode'),
        ('numpy', 'ndarray'),
        ('numpy', 'dtype'),
        ('numpy.core.multiarray', '_reconstruct'),
        ('numpy._core.multiarray', '_reconstruct'),
        ('numpy.core.multiarray', 'scalar'),
        ('numpy._core.multiarray', 'scalar'),
        ('numpy.core.numeric', '_frombuffer'),
        ('numpy._core.numeric', '_frombuffer'),
    ])


def _normalise(module: str, name: str) -> Tuple[str, str]:
    """Python 2 spelling -> Python 3 spelling (``__builtin__.set`` -> ``builtins.set``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return module, name


def _resolve(module: str, name: str) -> Any:
    """Import an allowed global; ``numpy.core.x`` goes to ``numpy._core.x`` on numpy 2
    (importing ``numpy.core`` there only raises a deprecation warning)."""
    if module.startswith('numpy.core.'):
        try:
            return getattr(importlib.import_module('numpy._core.' + module[11:]), name)
        except (ImportError, AttributeError):
            pass
    elif module.startswith('numpy._core.'):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            module = 'numpy.core.' + module[12:]  # numpy 1.x reading a numpy 2 pickle
    return getattr(importlib.import_module(module), name)


class UnsafePickleError(ValueError):
    """A pickle names a global outside :data:`ALLOWED_GLOBALS`."""


class SafeUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`.

    Args:
        file: binary file object to read.
        source (str): the file name, used in error messages.
    """

    def __init__(self, file: Any, source: str = '<pickle>') -> None:
        super().__init__(file, encoding='latin1')
        self.source = source
        self._cache: Dict[Tuple[str, str], Any] = {}

    def find_class(self, module: str, name: str) -> Callable:
        key = _normalise(module, name)
        if key not in ALLOWED_GLOBALS:
            raise UnsafePickleError(
                f"{self.source}: refusing to load '{key[0]}.{key[1]}': this pickle holds "
                'something other than plain data (lists, dicts, numbers, strings, numpy '
                'arrays). Feature files never need it; the file may be corrupt or '
                'malicious.')
        if key not in self._cache:
            self._cache[key] = _resolve(*key)
        return self._cache[key]


def safe_load_pickle(path: PathLike) -> Any:
    """Load a pickle that may only contain data.

    Python 2 pickles are read with ``encoding='latin1'`` (what numpy needs for arrays
    written by Python 2).

    Args:
        path: the pickle file.

    Returns:
        The unpickled object.

    Raises:
        FileNotFoundError: if ``path`` does not exist.
        ValueError: if the pickle names any global outside :data:`ALLOWED_GLOBALS`
            (nothing it names is called), or if it is not a readable pickle.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    with open(path, 'rb') as f:
        try:
            return SafeUnpickler(f, source=path).load()
        except UnsafePickleError:
            raise
        except Exception as e:  # truncated or foreign files fail in many ways
            raise ValueError(f'{path}: not a readable pickle ({type(e).__name__}: {e})') from e

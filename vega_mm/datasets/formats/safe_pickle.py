"""A pickle reader that only rebuilds data (containers, scalars, numpy arrays).

The public feature files of SDT, MMGCN and VEGA are pickles. Unpickling runs whatever
callable the file names, so an ordinary ``pickle.load`` of a file downloaded from the web
can execute arbitrary code. :func:`safe_load_pickle` resolves only an allow-list of
globals: the builtin containers and scalars, and what numpy needs to rebuild arrays,
scalars and dtypes. Anything else is refused before it is called.
"""
import os
from typing import Any, Union

from vega_mm.utils.safe_pickle import (NUMPY_ARRAY_GLOBALS, AllowList, RestrictedUnpickler,
                                       UnsafePickleError, expanded_size)

__all__ = ['safe_load_pickle', 'SafeUnpickler', 'UnsafePickleError', 'ALLOWED_GLOBALS',
           'FEATURE_PICKLE_ALLOW_LIST']

PathLike = Union[str, 'os.PathLike[str]']

#: A feature pickle may expand (shared references written out) to at most this many
#: times its file size, plus :data:`EXPANSION_MARGIN` bytes. Real files stay far below:
#: every number or string costs at least one byte in the file, arrays their size.
MAX_EXPANSION = 16
EXPANSION_MARGIN = 64 << 20

_BUILTIN_NAMES = ('dict', 'list', 'tuple', 'set', 'frozenset', 'int', 'float', 'complex',
                  'bool', 'str', 'bytes', 'bytearray', 'range', 'slice')

#: ``(module, name)`` pairs a data pickle may name: NumPy's arrays and scalars
#: (:data:`~vega_mm.utils.safe_pickle.NUMPY_ARRAY_GLOBALS`) and the following.
ALLOWED_GLOBALS = NUMPY_ARRAY_GLOBALS | frozenset(
    [('builtins', n) for n in _BUILTIN_NAMES] + [
        ('collections', 'OrderedDict'),
        ('collections', 'defaultdict'),
        # Python 3 pickles ``bytes`` as ``_codecs.encode(str, 'latin1')`` in protocol < 3.
        ('_codecs', 'encode'),
        # arrays pickled with protocol 5 (numpy 1.x and 2.x spellings)
        ('numpy.core.numeric', '_frombuffer'),
        ('numpy._core.numeric', '_frombuffer'),
    ])


#: The allow-list of feature pickles, for :class:`~vega_mm.utils.RestrictedUnpickler`.
FEATURE_PICKLE_ALLOW_LIST = AllowList(
    names=ALLOWED_GLOBALS,
    refusal='this pickle holds something other than plain data (lists, dicts, numbers, '
    'strings, numpy arrays). Feature files never need it; the file may be corrupt or '
    'malicious.',
    python2_names=True)


class SafeUnpickler(RestrictedUnpickler):
    """``pickle.Unpickler`` that resolves only :data:`ALLOWED_GLOBALS`.

    Args:
        file: binary file object to read.
        source (str): the file name, used in error messages.
    """

    allow_list = FEATURE_PICKLE_ALLOW_LIST

    def __init__(self, file: Any, source: str = '<pickle>') -> None:
        # latin1: what numpy needs for arrays pickled by Python 2.
        super().__init__(file, source=source, encoding='latin1')


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
            (nothing it names is called), if it is not a readable pickle, or if its
            shared references would expand beyond :data:`MAX_EXPANSION` times the file
            size (plus :data:`EXPANSION_MARGIN`) when converted to arrays.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'{path}: no such file')
    with open(path, 'rb') as f:
        try:
            obj = SafeUnpickler(f, source=path).load()
        except UnsafePickleError:
            raise
        except Exception as e:  # truncated or foreign files fail in many ways
            raise ValueError(f'{path}: not a readable pickle ({type(e).__name__}: {e})') from e
    file_size = os.path.getsize(path)
    limit = MAX_EXPANSION * file_size + EXPANSION_MARGIN
    try:
        expanded = expanded_size(obj, limit)
    except ValueError as e:
        raise ValueError(f'{path}: not a feature file: {e}') from None
    if expanded > limit:
        raise ValueError(
            f'{path}: the data references the same objects so often that reading it '
            f'would need more than {limit >> 20} MiB for a {file_size} byte file '
            f'(at most {MAX_EXPANSION}x the file size + {EXPANSION_MARGIN >> 20} MiB is '
            'accepted); the file is corrupt or malicious')
    return obj

"""Restricted unpickling: rebuild only the globals an allow-list names.

Unpickling calls whatever callable a file names, so ``pickle.load`` of a file from
elsewhere can run arbitrary code. :class:`RestrictedUnpickler` resolves a global only if
its :class:`AllowList` names it, and refuses anything else before it is called. Each
kind of file has its own allow-list: data pickles (the public feature files of SDT,
MMGCN and VEGA) here, read by :func:`safe_load_pickle`; MMEngine checkpoints in
:mod:`vega_mm.utils.checkpoint`, which needs torch and mmengine to name theirs.
"""
import _compat_pickle
import functools
import importlib
import os
import pickle
import types
from dataclasses import dataclass
from typing import Any, Callable, Dict, FrozenSet, Mapping, Optional, Tuple, Type, Union

__all__ = ['AllowList', 'RestrictedUnpickler', 'UnsafePickleError', 'as_pickle_module',
           'import_global', 'NUMPY_ARRAY_GLOBALS', 'expanded_size', 'safe_load_pickle',
           'SafeUnpickler', 'ALLOWED_GLOBALS', 'FEATURE_PICKLE_ALLOW_LIST']

Global = Tuple[str, str]

#: What NumPy needs to rebuild arrays, dtypes and scalars; ``numpy.core`` (numpy 1.x)
#: and ``numpy._core`` (numpy 2.x) spell the same functions. Every allow-list of files
#: that hold arrays starts from this.
NUMPY_ARRAY_GLOBALS: FrozenSet[Global] = frozenset([
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
])

# How pickles spell ``getattr``; an allow-list with a getattr policy gets the policy
# instead, since the real ``getattr`` reaches anything (``eval`` included).
_GETATTR_NAMES = frozenset([('builtins', 'getattr'), ('__builtin__', 'getattr')])


class UnsafePickleError(pickle.UnpicklingError, ValueError):
    """A pickle names a global its allow-list does not allow.

    Both an ``UnpicklingError`` (what ``torch.load`` callers catch) and a ``ValueError``
    (what readers of data files catch).
    """


@dataclass(frozen=True)
class AllowList:
    """The globals a restricted pickle may name.

    Args:
        names: ``(module, name)`` pairs, imported with :func:`import_global` on first use.
        refusal: why a refused global does not belong in such a file; ends the error
            message.
        table: called once on first use; more allowed globals as a
            ``{'module.name': object}`` mapping (e.g. what ``torch.load(weights_only=True)``
            allows), for objects that are given rather than imported by name.
        getattr_policy: stands in for ``builtins.getattr``, which is refused if None.
            Called as ``policy(obj, name)``; returns the attribute or raises
            :class:`UnsafePickleError`.
        python2_names: read Python 2 spellings (``__builtin__.set``) as their Python 3
            names before checking them, for files written by Python 2.
    """

    names: FrozenSet[Global]
    refusal: str
    table: Optional[Callable[[], Mapping[str, Any]]] = None
    getattr_policy: Optional[Callable[[Any, str], Any]] = None
    python2_names: bool = False

    @functools.cached_property
    def _resolved(self) -> Dict[str, Any]:
        # Filled lazily: only what a file actually names is imported.
        return dict(self.table()) if self.table is not None else {}

    def lookup(self, module: str, name: str) -> Any:
        """The object a pickle's ``module.name`` stands for.

        Raises:
            KeyError: if the allow-list does not allow it (nothing is imported then).
        """
        full = f'{module}.{name}'
        resolved = self._resolved
        if full not in resolved:
            if (module, name) not in self.names:
                raise KeyError(full)
            resolved[full] = import_global(module, name)
        return resolved[full]


def import_global(module: str, name: str) -> Any:
    """Import ``module.name``, reading numpy 1 and numpy 2 spellings alike.

    ``numpy.core.x`` goes to ``numpy._core.x`` on numpy 2 (importing ``numpy.core``
    there only raises a deprecation warning), and ``numpy._core.x`` to ``numpy.core.x``
    on numpy 1.
    """
    if module.startswith('numpy.core.'):
        try:
            return getattr(importlib.import_module('numpy._core.' + module[11:]), name)
        except (ImportError, AttributeError):
            pass
    elif module.startswith('numpy._core.'):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            module = 'numpy.core.' + module[12:]
    return getattr(importlib.import_module(module), name)


def _python3_name(module: str, name: str) -> Global:
    """Python 2 spelling -> Python 3 spelling (``__builtin__.set`` -> ``builtins.set``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


class RestrictedUnpickler(pickle.Unpickler):
    """``pickle.Unpickler`` that resolves only the globals of an :class:`AllowList`.

    Subclasses may fix the allow-list as the class attribute ``allow_list`` (APIs such as
    ``torch.load(pickle_module=...)`` construct the unpickler class themselves).

    Args:
        file: binary file object to read.
        allow_list: the globals this pickle may name; by default the class's.
        source: the file name, put in front of refusal messages.
        **kwargs: passed to ``pickle.Unpickler`` (``encoding``, ...).

    Raises:
        UnsafePickleError (from :meth:`load`): the pickle names a global outside the
            allow-list.
    """

    allow_list: Optional[AllowList] = None

    def __init__(self, file: Any, allow_list: Optional[AllowList] = None,
                 source: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        if allow_list is not None:
            self.allow_list = allow_list
        elif self.allow_list is None:
            raise TypeError(f'{type(self).__name__} needs an allow_list')
        self.source = source

    def find_class(self, module: str, name: str) -> Any:
        policy = self.allow_list
        if policy.python2_names:
            module, name = _python3_name(module, name)
        if policy.getattr_policy is not None and (module, name) in _GETATTR_NAMES:
            return policy.getattr_policy
        try:
            return policy.lookup(module, name)
        except KeyError:
            prefix = f'{self.source}: ' if self.source else ''
            raise UnsafePickleError(f"{prefix}refusing to load '{module}.{name}': "
                                    f'{policy.refusal}') from None


def as_pickle_module(unpickler: Type[RestrictedUnpickler],
                     name: str) -> types.SimpleNamespace:
    """A stand-in for the ``pickle`` module whose ``Unpickler`` and ``load`` are
    ``unpickler``'s, for ``torch.load(pickle_module=...)``."""
    return types.SimpleNamespace(
        __name__=name, Unpickler=unpickler,
        load=lambda f, **kwargs: unpickler(f, **kwargs).load())


_CONTAINERS = (list, tuple, set, frozenset, dict)


def expanded_size(obj: Any, limit: int) -> int:
    """Bytes ``obj`` would take with every shared reference written out, up to ``limit``.

    A pickle may reference one object many times at the cost of a few bytes each:
    ``c = [b] * 1000``, ``b = [a] * 1000``, ``a = [0.0] * 1000`` is a small file, but
    converting ``c`` to an array (what readers do) needs 10^9 numbers. This counts what
    such a conversion would need (8 bytes per container slot, an array's ``nbytes``, a
    string's length), computing each distinct container once, so it costs time in
    proportion to the file, not to the expansion.

    Args:
        obj: an unpickled object.
        limit: stop counting once the total exceeds this.

    Returns:
        The expanded size in bytes, or a value above ``limit`` if it exceeds it.

    Raises:
        ValueError: the object contains itself (a cycle: an infinite expansion) or is
            nested too deeply to be data.
    """
    import numpy as np
    known: Dict[int, int] = {}
    active = set()

    def size(o: Any, depth: int) -> int:
        if isinstance(o, np.ndarray):
            if o.dtype != object:
                return int(o.nbytes)
            o = o.ravel().tolist()
        elif isinstance(o, (str, bytes, bytearray)):
            return len(o) + 8
        if not isinstance(o, _CONTAINERS):
            return 8
        key = id(o)
        if key in known:
            return known[key]
        if key in active:
            raise ValueError('the data contains itself (a reference cycle)')
        if depth > 100:
            raise ValueError('the data is nested more than 100 levels deep')
        active.add(key)
        items = [v for kv in o.items() for v in kv] if isinstance(o, dict) else o
        total = 8 * len(o)
        for item in items:
            total += size(item, depth + 1)
            if total > limit:
                break
        active.discard(key)
        known[key] = total
        return total

    return size(obj, 0)


# ------------------------------------------------------------------ data pickles
# The public feature files of SDT, MMGCN and VEGA are pickles; an ordinary
# ``pickle.load`` of one downloaded from the web can execute arbitrary code.
# :func:`safe_load_pickle` resolves only the builtin containers and scalars and what
# numpy needs to rebuild arrays, scalars and dtypes.

PathLike = Union[str, 'os.PathLike[str]']

#: A feature pickle may expand (shared references written out) to at most this many
#: times its file size, plus :data:`EXPANSION_MARGIN` bytes. Real files stay far below:
#: every number or string costs at least one byte in the file, arrays their size.
MAX_EXPANSION = 16
EXPANSION_MARGIN = 64 << 20

_BUILTIN_NAMES = ('dict', 'list', 'tuple', 'set', 'frozenset', 'int', 'float', 'complex',
                  'bool', 'str', 'bytes', 'bytearray', 'range', 'slice')

#: ``(module, name)`` pairs a data pickle may name: NumPy's arrays and scalars
#: (:data:`NUMPY_ARRAY_GLOBALS`) and the following.
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


#: The allow-list of feature pickles, for :class:`RestrictedUnpickler`.
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

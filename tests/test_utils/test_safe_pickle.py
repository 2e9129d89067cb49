import io
import pickle
from collections import OrderedDict

import pytest

from vega_mm.utils import AllowList, RestrictedUnpickler, UnsafePickleError

_ORDERED = AllowList(names=frozenset([('collections', 'OrderedDict')]),
                     refusal='only ordered dicts here')


def _load(data: bytes, allow_list: AllowList, **kwargs):
    return RestrictedUnpickler(io.BytesIO(data), allow_list, **kwargs).load()


def test_allowed_globals_load_and_others_are_refused_with_the_source():
    assert _load(pickle.dumps(OrderedDict(a=1)), _ORDERED) == OrderedDict(a=1)
    with pytest.raises(UnsafePickleError) as info:
        _load(pickle.dumps(print), _ORDERED, source='f.pkl')
    assert str(info.value) == "f.pkl: refusing to load 'builtins.print': only ordered dicts here"
    # what torch.load callers and data-file readers catch
    assert isinstance(info.value, pickle.UnpicklingError)
    assert isinstance(info.value, ValueError)


def test_getattr_only_through_the_policy():
    data = b'cbuiltins\ngetattr\n(cbuiltins\nint\nVreal\ntR.'  # getattr(int, 'real')
    with pytest.raises(UnsafePickleError, match='builtins.getattr'):
        _load(data, AllowList(names=frozenset([('builtins', 'int')]), refusal='no'))
    seen = []
    policy = AllowList(names=frozenset([('builtins', 'int')]), refusal='no',
                       getattr_policy=lambda obj, name: seen.append((obj, name)) or 7)
    assert _load(data, policy) == 7 and seen == [(int, 'real')]


def test_python2_names_only_where_asked():
    data = b'c__builtin__\nset\n(]tR.'  # Python 2's spelling of set()
    names = frozenset([('builtins', 'set')])
    assert _load(data, AllowList(names=names, refusal='no', python2_names=True)) == set()
    with pytest.raises(UnsafePickleError, match='__builtin__.set'):
        _load(data, AllowList(names=names, refusal='no'))


def test_table_globals_are_allowed_as_given():
    table = AllowList(names=frozenset(), refusal='no',
                      table=lambda: {'collections.OrderedDict': dict})
    assert type(_load(pickle.dumps(OrderedDict(a=1)), table)) is dict


def test_an_unpickler_needs_an_allow_list():
    with pytest.raises(TypeError, match='allow_list'):
        RestrictedUnpickler(io.BytesIO(b''))

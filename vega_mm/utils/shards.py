"""Splitting a job over processes: shard ``I/N`` of a list of named items.

The assignment depends only on the items' names: item names are sorted (by code point,
the same on every machine) and the one at sorted position ``p`` belongs to shard
``p % N + 1``.  Every shard of ``N`` gets ``len(items) // N`` or one more, the ``N``
shards together hold every item exactly once, and which shard an item is in does not
depend on the order the items were read in, on the machine or on ``PYTHONHASHSEED``.
"""
from collections import Counter
from typing import Callable, List, Optional, Sequence, Tuple, TypeVar, Union

__all__ = ['parse_shard', 'shard_of', 'ShardSpec']

T = TypeVar('T')
#: ``'2/4'`` or ``(2, 4)``: shard 2 of 4, counted from 1.
ShardSpec = Union[str, Tuple[int, int]]


def parse_shard(spec: ShardSpec) -> Tuple[int, int]:
    """``'I/N'`` -> ``(I, N)`` with ``1 <= I <= N``.

    Raises:
        ValueError: not two whole numbers ``I/N``, ``N < 1``, or ``I`` outside
            ``[1, N]`` (the message quotes the spec and says what is expected).
    """
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        text = f'{spec[0]}/{spec[1]}'
    else:
        text = str(spec)
    parts = text.strip().split('/')
    try:
        index, count = (int(p) for p in parts) if len(parts) == 2 else (None, None)
    except ValueError:
        index = count = None
    if index is None or count is None:
        raise ValueError(f'shard {text!r}: expected I/N, two whole numbers such as 2/4 '
                         '(shard I of N, counted from 1)')
    if count < 1:
        raise ValueError(f'shard {text!r}: the number of shards N must be >= 1')
    if not 1 <= index <= count:
        raise ValueError(f'shard {text!r}: the shard index must be in 1..{count} '
                         '(shards are counted from 1)')
    return index, count


def shard_of(items: Sequence[T], spec: Optional[ShardSpec],
             key: Optional[Callable[[T], str]] = None) -> List[T]:
    """The items of shard ``spec``, in their input order (``None``: all of them).

    Args:
        items: the whole job; ``key(item)`` (default ``str(item)``) names each item, and
            names must be distinct.
        spec: ``'I/N'`` or ``(I, N)`` (see :func:`parse_shard`).
        key: an item's name, e.g. ``lambda d: d.dialogue_id``.

    Raises:
        ValueError: a bad spec, or two items with the same name.
    """
    if spec is None:
        return list(items)
    index, count = parse_shard(spec)
    names = [key(x) if key is not None else str(x) for x in items]
    if len(set(names)) != len(names):
        twice = sorted(n for n, c in Counter(names).items() if c > 1)[:3]
        raise ValueError(f'shard {index}/{count}: item names must be distinct; '
                         f'{twice} occur more than once')
    position = {n: p for p, n in enumerate(sorted(names))}
    return [x for x, n in zip(items, names) if position[n] % count == index - 1]

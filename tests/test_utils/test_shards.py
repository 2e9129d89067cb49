"""Shard I/N of a job: parsing, and an assignment that covers every item once and
depends only on the names."""
import random

import pytest

from vega_mm.utils.shards import parse_shard, shard_of


def test_parse_shard():
    assert parse_shard('2/4') == (2, 4) and parse_shard(' 1/1 ') == (1, 1)
    assert parse_shard((3, 4)) == (3, 4)
    for bad, why in [('0/4', r'the shard index must be in 1\.\.4 \(shards are counted from 1\)'),
                     ('5/4', r'the shard index must be in 1\.\.4'),
                     ('x', 'expected I/N, two whole numbers such as 2/4'),
                     ('2/x', 'expected I/N'), ('1/2/3', 'expected I/N'), ('', 'expected I/N'),
                     ('1/0', 'the number of shards N must be >= 1')]:
        with pytest.raises(ValueError, match=rf"shard {bad!r}: {why}"):
            parse_shard(bad)


def test_shards_cover_every_item_once_whatever_the_order():
    names = [f'dia{i}' for i in range(11)]
    shards = [shard_of(names, f'{i}/3') for i in (1, 2, 3)]
    assert sorted(sum(shards, [])) == sorted(names)
    assert [len(s) for s in shards] == [4, 4, 3]
    assert all(s == [n for n in names if n in s] for s in shards)  # input order kept
    shuffled = names[:]
    random.Random(0).shuffle(shuffled)
    assert [sorted(shard_of(shuffled, f'{i}/3')) for i in (1, 2, 3)] == \
        [sorted(s) for s in shards]
    assert shard_of(names, None) == names and shard_of(names, '1/1') == names
    assert shard_of([dict(id='b'), dict(id='a')], '1/2', key=lambda d: d['id']) == \
        [dict(id='a')]
    with pytest.raises(ValueError, match=r"names must be distinct; \['a'\]"):
        shard_of(['a', 'a', 'b'], '1/2')

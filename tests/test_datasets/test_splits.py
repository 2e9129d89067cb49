"""The validation-split rule shared by every reader and by feature extraction."""
import math

import numpy as np
import pytest

from vega_mm.datasets.formats import make_val_split as formats_split
from vega_mm.datasets.splits import make_val_split, natural_key
from vega_mm.features import split_train_val
from vega_mm.structures.meta import SPLITS


def test_ids_are_ordered_naturally_before_the_permutation():
    ids = ['10', '2', '1']
    ordered = ['1', '2', '10']  # natural order; as strings it would be 1, 10, 2
    perm = np.random.default_rng(0).permutation(3)
    train, val = make_val_split(ids, 0.5, seed=0)
    assert set(val) == {ordered[j] for j in perm[:2]}
    assert sorted(['d10', 'd2', 'd1', 'x'], key=natural_key) == ['d1', 'd2', 'd10', 'x']
    assert sorted(['train/10', 'train/9', 'dev/3'], key=natural_key) == [
        'dev/3', 'train/9', 'train/10']


def test_split_is_deterministic_and_keeps_the_input_order():
    ids = [f'train/{i}' for i in range(50)]
    train, val = make_val_split(ids, 0.1, seed=0)
    assert len(val) == math.ceil(0.1 * 50) and not set(train) & set(val)
    assert set(train) | set(val) == set(ids)
    assert [i for i in ids if i in val] == val  # input order kept
    shuffled = list(reversed(ids))
    train_r, val_r = make_val_split(shuffled, 0.1, seed=0)
    assert set(val_r) == set(val) and val_r == [i for i in shuffled if i in val]
    assert set(make_val_split(ids, 0.1, seed=1)[1]) != set(val)
    assert make_val_split(list(range(50)), 0.1, seed=0)[1] == [
        v.split('/')[1] for v in val]  # integer ids: the same rule, as strings


def test_edges():
    assert make_val_split(['x'], 0.1) == (['x'], [])  # training keeps one dialogue
    assert make_val_split([], 0.1) == ([], [])
    assert make_val_split(['a', 'b'], 0) == (['a', 'b'], [])
    with pytest.raises(ValueError, match=r'val_ratio must be in \[0, 1\), got 1.0'):
        make_val_split(['a', 'b'], 1.0)


def test_one_rule_everywhere():
    assert formats_split is make_val_split and split_train_val is make_val_split
    assert SPLITS == ('train', 'val', 'test')

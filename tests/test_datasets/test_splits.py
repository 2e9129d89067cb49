"""The validation-split rule shared by every reader and by feature extraction: ids in
natural order, a seeded permutation, the first ``ceil(ratio * n)`` to validation."""
import math

import numpy as np
import pytest

from vega_mm.datasets.formats import load_conversations, save_native
from vega_mm.structures.splits import make_val_split, natural_key
from vega_mm.structures.meta import SPLITS
from tests.utils import make_sdt_pickle, sdt_items, write_meld_like_table

IDS = [f'train/{i}' for i in range(50)]


def _expected_val(ids, ratio, seed, key):
    """The rule written out: sort with ``key``, permute, take the first ceil(ratio*n)."""
    ordered = sorted(ids, key=key)
    perm = np.random.default_rng(seed).permutation(len(ids))
    return {ordered[j] for j in perm[:math.ceil(ratio * len(ids))]}


def test_natural_key_orders_by_the_trailing_integer():
    assert sorted(['d10', 'd2', 'd1', 'x'], key=natural_key) == ['d1', 'd2', 'd10', 'x']
    assert sorted(['train/10', 'train/9', 'dev/3'], key=natural_key) == [
        'dev/3', 'train/9', 'train/10']
    assert sorted(['d2', 'd02'], key=natural_key) == ['d02', 'd2']  # a total order


def test_the_permutation_runs_over_the_natural_order():
    ids = [f'd{i}' for i in range(1, 31)]
    train, val = make_val_split(ids, 0.2, seed=0)
    assert set(val) == _expected_val(ids, 0.2, 0, natural_key)
    # the order matters: string order ('d1', 'd10', 'd11', ...) would pick others
    assert set(val) != _expected_val(ids, 0.2, 0, str)


def test_disjoint_complete_and_in_the_input_order():
    train, val = make_val_split(IDS, 0.1, seed=0)
    assert len(val) == math.ceil(0.1 * 50) and not set(train) & set(val)
    assert sorted(train + val, key=natural_key) == IDS
    assert [i for i in IDS if i in val] == val and [i for i in IDS if i in train] == train


def test_deterministic_whatever_order_or_type_the_ids_come_in():
    train, val = make_val_split(IDS, 0.1, seed=0)
    assert make_val_split(IDS, 0.1, seed=0) == (train, val)  # again: the same
    rng = np.random.default_rng(7)
    for _ in range(3):
        shuffled = [IDS[j] for j in rng.permutation(len(IDS))]
        train_s, val_s = make_val_split(shuffled, 0.1, seed=0)
        assert set(val_s) == set(val) and val_s == [i for i in shuffled if i in val]
    # integer ids are the same ids as strings
    assert make_val_split(list(range(50)), 0.1, seed=0)[1] == [v.split('/')[1] for v in val]


def test_the_seed_chooses_the_dialogues():
    vals = [frozenset(make_val_split(IDS, 0.1, seed=s)[1]) for s in range(5)]
    assert len(set(vals)) == 5  # five seeds, five different validation splits
    for seed, val in enumerate(vals):
        assert val == _expected_val(IDS, 0.1, seed, natural_key)
        assert len(val) == 5


@pytest.mark.parametrize('n, ratio, k', [(50, 0.1, 5), (51, 0.1, 6), (10, 0.01, 1),
                                         (3, 0.9, 2), (2, 0.5, 1)])
def test_ceil_of_the_ratio_and_training_keeps_one(n, ratio, k):
    train, val = make_val_split([f'd{i}' for i in range(n)], ratio)
    assert len(val) == k and len(train) == n - k


def test_edges():
    assert make_val_split(['x'], 0.1) == (['x'], [])  # training keeps one dialogue
    assert make_val_split([], 0.1) == ([], [])
    assert make_val_split(['a', 'b'], 0) == (['a', 'b'], [])
    with pytest.raises(ValueError, match=r'val_ratio must be in \[0, 1\), got 1.0'):
        make_val_split(['a', 'b'], 1.0)
    with pytest.raises(ValueError, match=r'got -0.1'):
        make_val_split(['a', 'b'], -0.1)
    assert SPLITS == ('train', 'val', 'test')


@pytest.mark.parametrize('ratio, seed', [(0.1, 0), (0.3, 5)])
def test_readers_without_a_val_split_carve_it_with_the_rule(tmp_path, ratio, seed):
    pkl = make_sdt_pickle(str(tmp_path / 'f.pkl'), 'iemocap', num_train=20)
    train_ids = [str(i) for i in sdt_items('iemocap', num_train=20)['trainVid']]
    expected = tuple(map(set, make_val_split(train_ids, ratio, seed)))
    coll = load_conversations(pkl, val_ratio=ratio, val_seed=seed)
    assert (set(coll.splits['train']), set(coll.splits['val'])) == expected
    # a native file keeps the validation split it was written with
    own = save_native(str(tmp_path / 'own.npz'), coll.dialogues, coll.classes,
                      dict(train=train_ids[1:], val=train_ids[:1], test=coll.splits['test']),
                      num_speakers=coll.num_speakers)
    assert load_conversations(own, val_ratio=ratio, val_seed=seed).splits['val'] == \
        train_ids[:1]
    # a native file from another writer, with no val entry in its index, gets one carved
    import json

    import numpy as np
    with np.load(own, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays['meta'][()]))
    meta['splits'] = dict(train=train_ids, test=meta['splits']['test'])
    arrays['meta'] = np.array(json.dumps(meta))
    other = str(tmp_path / 'other.npz')
    np.savez(other, **arrays)
    carved = load_conversations(other, val_ratio=ratio, val_seed=seed).splits
    assert (set(carved['train']), set(carved['val'])) == expected


def test_tables_at_extraction_hold_out_with_the_rule(tmp_path):
    from vega_mm.conversations import TableSpec, load_tables
    table = write_meld_like_table(tmp_path / 'train_sent_emo.csv', 20)
    conv = load_tables([TableSpec(str(table), 'train')], val_fraction=0.2, split_seed=3,
                       log=lambda s: None)
    ids = conv.split_ids()
    train_ids = sorted(ids['train'] + ids['val'], key=natural_key)
    assert len(train_ids) == 20 and ids['val']
    assert set(ids['val']) == set(make_val_split(train_ids, 0.2, 3)[1])
    assert conv.val_rule == dict(source='train', fraction=0.2, seed=3,
                                 num_dialogues=len(ids['val']))

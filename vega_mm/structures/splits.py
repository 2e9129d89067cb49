"""Split names and the one rule that carves a validation split out of training dialogues.

Every reader that has no validation split of its own (the public pickles, native files
without one, conversation tables at extraction time) uses :func:`make_val_split`, so the
same ids, ratio and seed always give the same validation dialogues.
"""
import math
import re
from typing import Any, List, Sequence, Tuple

import numpy as np

__all__ = ['natural_key', 'make_val_split']


_TRAILING_INT = re.compile(r'(\d+)$')


def natural_key(dialogue_id: str) -> Tuple[str, int, str]:
    """Sort key that orders ids by their trailing integer: ``'d2'`` before ``'d10'``.

    Ids are compared by the text before their trailing digits, then by that number (ids
    without one first), then as strings (so ``'d02'`` and ``'d2'`` still have an order).
    """
    tail = _TRAILING_INT.search(dialogue_id)
    if tail is None:
        return dialogue_id, -1, dialogue_id
    return dialogue_id[:tail.start()], int(tail.group(1)), dialogue_id


def make_val_split(train_ids: Sequence[Any], ratio: float = 0.1,
                   seed: int = 0) -> Tuple[List[str], List[str]]:
    """Carve a deterministic validation split out of the training dialogues.

    The ids (as strings) are sorted with :func:`natural_key`, so the result does not
    depend on the order they are given in, permuted with
    ``numpy.random.default_rng(seed)``, and the first ``ceil(ratio * n)`` of the
    permutation form the validation split (at most ``n - 1``, so training keeps one
    dialogue).

    Args:
        train_ids: the training dialogue ids (converted to ``str``).
        ratio: fraction of training dialogues moved to validation, in ``[0, 1)``.
        seed: seed of the permutation.

    Returns:
        ``(train_ids, val_ids)``: disjoint, together the input ids, each in the order of
        ``train_ids``.

    Raises:
        ValueError: ``ratio`` outside ``[0, 1)``.
    """
    if not 0 <= ratio < 1:
        raise ValueError(f'val_ratio must be in [0, 1), got {ratio}')
    ids = [str(i) for i in train_ids]
    n = len(ids)
    k = min(math.ceil(ratio * n), max(n - 1, 0))
    ordered = sorted(ids, key=natural_key)
    perm = np.random.default_rng(seed).permutation(n)
    val = {ordered[j] for j in perm[:k]}
    return [i for i in ids if i not in val], [i for i in ids if i in val]

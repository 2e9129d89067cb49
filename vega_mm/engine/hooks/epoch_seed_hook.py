"""Per-epoch re-seeding, so that a resumed run draws the same random numbers."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import Hook

from vega_mm.registry import HOOKS

__all__ = ['EpochSeedHook']


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seeds Python, NumPy and PyTorch at the start of every training epoch.

    The seed is derived from (``runner.seed``, epoch, rank) alone, so the random
    numbers of epoch ``e`` (dropout, anchor sampling, feature masking, data-loader
    worker seeds) do not depend on what ran before it — in particular not on whether
    the run was resumed from a checkpoint, or how many random numbers validation used.

    Args:
        seed: the base seed; by default the Runner's (``randomness.seed``).
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = seed

    def before_train_epoch(self, runner) -> None:
        base = self.seed if self.seed is not None else runner.seed
        if base is None:
            return
        seq = np.random.SeedSequence([int(base) & 0xFFFFFFFF, runner.epoch, get_rank()])
        state = seq.generate_state(2, dtype=np.uint32)
        random.seed(int(state[0]))
        np.random.seed(int(state[0]))
        torch.manual_seed(int(state[0]) << 32 | int(state[1]))

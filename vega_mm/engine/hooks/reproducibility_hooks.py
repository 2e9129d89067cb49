"""Hooks that make an interrupted and resumed run identical to an uninterrupted one."""
import random

import numpy as np
import torch
from mmengine.dist import get_rank
from mmengine.hooks import EarlyStoppingHook, Hook

from vega_mm.registry import HOOKS


@HOOKS.register_module()
class EpochSeedHook(Hook):
    """Re-seeds Python, NumPy and PyTorch at the start of every training epoch.

    The seed is derived from (``runner.seed``, epoch, rank) alone, so the random
    numbers of epoch ``e`` (dropout, anchor sampling, feature masking, data-loader
    worker seeds) do not depend on what ran before it — in particular not on whether
    the run was resumed from a checkpoint, or how many random numbers validation used.
    """

    priority = 'VERY_HIGH'

    def __init__(self, seed: int = None) -> None:
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


@HOOKS.register_module()
class ResumableEarlyStoppingHook(EarlyStoppingHook):
    """mmengine's ``EarlyStoppingHook`` whose patience counter and best score survive a
    resume (kept in the checkpoint's ``meta``)."""

    _KEY = 'early_stopping'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[self._KEY] = dict(
            wait_count=int(self.wait_count), best_score=float(self.best_score))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('meta', {}).get(self._KEY)
        if state:
            self.wait_count = state['wait_count']
            self.best_score = state['best_score']

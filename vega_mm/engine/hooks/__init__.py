from .reproducibility_hooks import EpochSeedHook, ResumableEarlyStoppingHook
from .self_distillation_hook import SelfDistillationHook

__all__ = ['SelfDistillationHook', 'EpochSeedHook', 'ResumableEarlyStoppingHook']

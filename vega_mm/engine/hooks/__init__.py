from .checkpoint_hook import AtomicCheckpointHook
from .digest_hook import StateDictDigestHook
from .early_stopping_hook import ResumableEarlyStoppingHook
from .epoch_seed_hook import EpochSeedHook
from .non_finite_hook import NonFiniteCheckHook
from .self_distillation_hook import SelfDistillationHook
from .visualization_hook import ERCVisualizationHook

__all__ = ['SelfDistillationHook', 'EpochSeedHook', 'ResumableEarlyStoppingHook',
           'AtomicCheckpointHook', 'NonFiniteCheckHook', 'ERCVisualizationHook',
           'StateDictDigestHook']

from .branch_loss import MultiBranchLoss
from .cross_entropy import WeightedCrossEntropyLoss
from .distillation import LearnedTemperatureKDLoss

__all__ = ['WeightedCrossEntropyLoss', 'LearnedTemperatureKDLoss', 'MultiBranchLoss']

from .distillation import LearnedTemperatureKDLoss, WeightedCrossEntropyLoss

__all__ = ['WeightedCrossEntropyLoss', 'LearnedTemperatureKDLoss']

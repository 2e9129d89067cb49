from .erc_metric import ERCMetric, erc_scores
from .prediction_collector import ConversationPredictionCollector

__all__ = ['ERCMetric', 'erc_scores', 'ConversationPredictionCollector']

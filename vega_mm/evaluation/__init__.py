"""Metrics: the ERC metric and the prediction collector (registered in ``METRICS``).

The multi-seed benchmark and the context-free baselines are in
:mod:`vega_mm.benchmarking`; the results files of runs in :mod:`vega_mm.apis.results`.
"""
from .metrics import ConversationPredictionCollector, ERCMetric, erc_scores

__all__ = ['ERCMetric', 'erc_scores', 'ConversationPredictionCollector']

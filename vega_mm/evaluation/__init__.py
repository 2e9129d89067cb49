from .baselines import (BASELINE_METRICS, DEFAULT_C_GRID, baseline_scores, config_class_weights,
                        logistic_regression_baseline, utterance_arrays)
from .metrics import ConversationPredictionCollector, ERCMetric, erc_scores
from .results import (RESULTS_FILE, collect_run_metrics, finished_run_results, mean_std,
                      read_run_results, results_path, run_metric, update_run_results)

__all__ = [
    'ERCMetric', 'erc_scores', 'ConversationPredictionCollector', 'BASELINE_METRICS',
    'DEFAULT_C_GRID', 'baseline_scores', 'config_class_weights', 'logistic_regression_baseline',
    'utterance_arrays', 'RESULTS_FILE', 'collect_run_metrics', 'finished_run_results',
    'mean_std', 'read_run_results', 'results_path', 'run_metric', 'update_run_results'
]

from .baselines import (BASELINE_METRICS, DEFAULT_C_GRID, baseline_scores,
                        config_logistic_regression, config_utterance_arrays,
                        fit_logistic_regression, config_class_weights,
                        logistic_regression_baseline, utterance_arrays)
from .benchmark import (TABLE_METRICS, BenchmarkEntry, available_cores, benchmark_table,
                        parse_cfg_options, plan_jobs, run_benchmark, run_breakdown, run_dir,
                        save_benchmark, train_run)
from .metrics import ConversationPredictionCollector, ERCMetric, erc_scores
from .results import (RESULTS_FILE, collect_run_metrics, finished_run_results, mean_std,
                      read_run_results, results_path, run_metric, update_run_results)

__all__ = [
    'ERCMetric', 'erc_scores', 'ConversationPredictionCollector', 'BASELINE_METRICS',
    'DEFAULT_C_GRID', 'baseline_scores', 'config_class_weights', 'logistic_regression_baseline',
    'utterance_arrays', 'RESULTS_FILE', 'collect_run_metrics', 'finished_run_results',
    'mean_std', 'read_run_results', 'results_path', 'run_metric', 'update_run_results',
    'config_logistic_regression', 'config_utterance_arrays', 'fit_logistic_regression',
    'TABLE_METRICS', 'BenchmarkEntry', 'available_cores', 'benchmark_table',
    'parse_cfg_options', 'plan_jobs', 'run_benchmark', 'run_breakdown', 'run_dir',
    'save_benchmark', 'train_run'
]

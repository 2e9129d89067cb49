"""Benchmarking (not metrics): configs trained over several seeds and summarised in one
table (``tools/multi_seed.py``), the context-free baselines they are compared with, the
feature files of the text-only MELD benchmark, and the timing loops and latency
statistics of ``tools/benchmarks``.

Metrics are in :mod:`vega_mm.evaluation`; the results file of one run in
:mod:`vega_mm.apis.results`.
"""
from .baselines import (DEFAULT_C_GRID, baseline_scores,
                        config_class_weights, config_logistic_regression,
                        config_utterance_arrays, fit_logistic_regression,
                        logistic_regression_baseline, utterance_arrays)
from .complexity import config_complexity
from .multi_seed import (BenchmarkEntry, available_cores, benchmark_table, config_digest,
                         parse_cfg_options, plan_jobs, run_benchmark, run_breakdown, run_dir,
                         save_benchmark, train_run)
from .text_features import (FINETUNE_LR, feature_file_options, text_feature_file,
                            text_feature_tag)
from .timing import latency_summary, training_step_times

__all__ = [
    'DEFAULT_C_GRID', 'baseline_scores', 'config_class_weights',
    'config_logistic_regression', 'config_utterance_arrays', 'fit_logistic_regression',
    'logistic_regression_baseline', 'utterance_arrays', 'BenchmarkEntry', 'config_digest',
    'available_cores', 'benchmark_table', 'parse_cfg_options', 'plan_jobs', 'run_benchmark',
    'run_breakdown', 'run_dir', 'save_benchmark', 'train_run', 'config_complexity',
    'latency_summary', 'training_step_times', 'FINETUNE_LR', 'text_feature_file',
    'text_feature_tag', 'feature_file_options'
]

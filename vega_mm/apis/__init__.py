from .evaluate import (EVALUATED_SPLITS, evaluate_best_checkpoint, evaluate_splits,
                       test_checkpoint, test_config)
from .inference import init_counting_model, init_model
from .inferencer import ConversationInferencer
from .recipe import RecipeError
from .results import (RESULTS_FILE, collect_run_metrics, finished_run_results,
                      format_results_table, mean_std, read_run_results, results_path,
                      run_metric, update_run_results)
from .streaming import StreamSession

__all__ = [
    'EVALUATED_SPLITS', 'evaluate_best_checkpoint', 'evaluate_splits', 'test_checkpoint',
    'test_config', 'format_results_table', 'init_model', 'init_counting_model',
    'ConversationInferencer', 'StreamSession', 'RecipeError', 'RESULTS_FILE',
    'collect_run_metrics', 'finished_run_results', 'mean_std', 'read_run_results',
    'results_path', 'run_metric', 'update_run_results'
]

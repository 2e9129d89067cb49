from .evaluate import (EVALUATED_SPLITS, evaluate_best_checkpoint, evaluate_splits,
                       test_checkpoint, test_config)
from .inference import init_model, predict_dialogues
from .results import format_results_table

__all__ = [
    'EVALUATED_SPLITS', 'evaluate_best_checkpoint', 'evaluate_splits', 'test_checkpoint',
    'test_config', 'format_results_table', 'init_model', 'predict_dialogues'
]

from .evaluate import (EVALUATED_SPLITS, evaluate_best_checkpoint, evaluate_splits,
                       test_checkpoint, test_config)
from .inference import init_model
from .inferencer import ConversationInferencer
from .recipe import RecipeError
from .results import format_results_table
from .streaming import StreamSession

__all__ = [
    'EVALUATED_SPLITS', 'evaluate_best_checkpoint', 'evaluate_splits', 'test_checkpoint',
    'test_config', 'format_results_table', 'init_model',
    'ConversationInferencer', 'StreamSession', 'RecipeError'
]

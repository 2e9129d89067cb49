from .inference import init_model, predict_dialogues
from .results import format_results_table

__all__ = ['format_results_table', 'init_model', 'predict_dialogues']

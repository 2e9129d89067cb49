from .results import format_results_table

__all__ = ['format_results_table']

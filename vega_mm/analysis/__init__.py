"""Analysis of trained models and runs: confusion matrices, training curves, the anchor
space in 2-D, parameters and FLOPs, the emotion timeline of a recording (used by
``tools/analysis_tools``, the visualization hook). The models they analyse come from
:mod:`vega_mm.apis` (``init_model``, ``init_counting_model``): analysis sits below the
APIs."""
from .anchor_space import (EMBEDDING_METHODS, anchor_points, anchor_space_embeddings,
                           anchor_space_map, anchor_space_summary, embed_2d,
                           plot_anchor_space, write_anchor_space_outputs)
from .complexity import (count_flops, dummy_dialogue_batch, format_flops, model_complexity,
                         plot_complexity, top_level_parts)
from .confusion import (confusion_counts, confusion_summary, labels_from_predictions,
                        metric_mismatches, plot_confusion_matrix, read_predictions_file,
                        row_normalise, write_confusion_outputs, write_prediction_pictures)
from .curves import (curve_points, find_scalar_logs, join_scalar_logs, load_scalar_log,
                     plot_curves, run_name)
from .figures import class_colors, figure_to_array, new_figure, save_figure
from .timeline import emotion_colors, format_clock, plot_emotion_timeline, timeline_figure

__all__ = [
    'EMBEDDING_METHODS', 'anchor_points', 'anchor_space_embeddings', 'anchor_space_map',
    'anchor_space_summary', 'embed_2d', 'plot_anchor_space', 'write_anchor_space_outputs',
    'count_flops', 'dummy_dialogue_batch', 'format_flops', 'model_complexity',
    'plot_complexity', 'top_level_parts', 'confusion_counts',
    'confusion_summary', 'labels_from_predictions', 'metric_mismatches',
    'plot_confusion_matrix', 'read_predictions_file', 'row_normalise',
    'write_confusion_outputs', 'write_prediction_pictures', 'curve_points',
    'find_scalar_logs', 'join_scalar_logs', 'load_scalar_log', 'plot_curves', 'run_name', 'class_colors',
    'figure_to_array', 'new_figure', 'save_figure', 'emotion_colors', 'format_clock',
    'plot_emotion_timeline', 'timeline_figure'
]

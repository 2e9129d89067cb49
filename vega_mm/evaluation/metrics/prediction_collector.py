"""Collects per-utterance predictions during evaluation (for ``tools/test.py --out``)."""
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from vega_mm.registry import METRICS
from vega_mm.structures.records import prediction_records


@METRICS.register_module()
class ConversationPredictionCollector(BaseMetric):
    """Keeps the prediction record of every utterance in ``self.predictions``.

    Each entry is a record of :func:`~vega_mm.structures.records.prediction_records`
    (``dialogue_id``, ``utterance_id``, ``pred_label``, ``pred_class``, ``pred_score``,
    ``gt_label``/``gt_class`` where labelled, ``pred_scores``, ``anchor_similarity``,
    ``branch_predictions``): the fields the model's head wrote, never recomputed, the
    same record ``tools/infer.py`` writes. Results are gathered from all ranks like any
    metric.

    Args:
        classes: the class names (default: the dataset's ``classes``).
        collect_device: as :class:`~mmengine.evaluator.BaseMetric`.
        prefix: as :class:`~mmengine.evaluator.BaseMetric`.
    """

    default_prefix = 'predictions'

    def __init__(self, classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self._classes = classes
        self.predictions: List[dict] = []

    def _class_names(self, num_classes: int) -> List[str]:
        classes = self._classes or (self.dataset_meta or {}).get('classes')
        return [str(c) for c in classes] if classes else [str(k) for k in range(num_classes)]

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        for s in data_samples:
            score = s['pred_score'] if isinstance(s, dict) else s.pred_score
            # one result per data sample: MMEngine gathers ranks' results and cuts the
            # padding of the distributed sampler by counting samples
            self.results.append(prediction_records(s, self._class_names(score.shape[-1])))

    def compute_metrics(self, results: List[List[dict]]) -> Dict[str, float]:
        self.predictions = [r for dialogue in results for r in dialogue]
        return {}

"""Collects per-utterance predictions during evaluation (for ``tools/test.py --out``)."""
from typing import Dict, List, Optional, Sequence

from mmengine.evaluator import BaseMetric

from vega_mm.registry import METRICS


@METRICS.register_module()
class ConversationPredictionCollector(BaseMetric):
    """Keeps every dialogue's (or image's) predictions in ``self.predictions``.

    Each entry: ``dialogue_id``, ``utterance_ids`` (when known), ``gt_label``,
    ``pred_label``, ``pred_class``, ``pred_score``, ``branch_pred_labels`` and, for
    models with an anchor space, ``anchor_similarity`` (lists, one item per utterance):
    the fields the model's head wrote, never recomputed.
    Results are gathered from all ranks like any metric.
    """

    default_prefix = 'predictions'

    def __init__(self, classes: Optional[Sequence[str]] = None,
                 collect_device: str = 'cpu', prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self._classes = classes
        self.predictions: List[dict] = []

    def process(self, data_batch, data_samples: Sequence) -> None:
        for s in data_samples:
            get = s.get if isinstance(s, dict) else (lambda k, s=s: s.get(k))
            meta = s.get('metainfo', {}) if isinstance(s, dict) else s.metainfo
            score = get('pred_score').cpu()
            entry = dict(dialogue_id=get('dialogue_id') or meta.get('dialogue_id'),
                         utterance_ids=get('utterance_ids') or meta.get('utterance_ids'),
                         pred_label=get('pred_label').cpu().reshape(-1).tolist(),
                         # [L, C] per dialogue; an image sample is one row
                         pred_score=[[round(float(p), 6) for p in row]
                                     for row in score.reshape(-1, score.shape[-1])])
            branch = get('branch_pred_labels')
            if branch is not None:
                entry['branch_pred_labels'] = {k: v.cpu().reshape(-1).tolist()
                                               for k, v in branch.items()}
            similarity = get('anchor_similarity')
            if similarity is not None:
                similarity = similarity.cpu()
                entry['anchor_similarity'] = [
                    [round(float(c), 6) for c in row]
                    for row in similarity.reshape(-1, similarity.shape[-1])]
            if entry['dialogue_id'] is None:
                entry['img_path'] = get('img_path') or meta.get('img_path')
            gt = get('gt_label')
            if gt is not None:
                entry['gt_label'] = gt.cpu().reshape(-1).tolist()
            self.results.append(entry)

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        classes = self._classes or (self.dataset_meta or {}).get('classes')
        for r in results:
            if classes is not None:
                r['pred_class'] = [classes[i] for i in r['pred_label']]
        self.predictions = list(results)
        return {}

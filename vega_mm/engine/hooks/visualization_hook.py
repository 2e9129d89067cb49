"""Pictures while training: the validation confusion matrix and per-class F1."""
from typing import Dict, Optional, Sequence

import numpy as np
from mmengine.dist import all_gather_object, get_rank, get_world_size
from mmengine.hooks import Hook

from vega_mm.analysis import confusion_summary, figure_to_array, plot_confusion_matrix
from vega_mm.registry import HOOKS

__all__ = ['ERCVisualizationHook']


@HOOKS.register_module()
class ERCVisualizationHook(Hook):
    """Sends the confusion matrix and per-class F1 of each validation to the visualizer.

    The validation predictions are collected from the validation steps' outputs (the
    data samples' ``gt_label`` / ``pred_label``; from every rank, each dialogue once),
    then rank 0 calls ``runner.visualizer.add_image(image_name, ...)`` with one picture
    (counts, row-normalised matrix, per-class F1) and ``add_scalars`` with the F1 of
    each class under ``{scalar_prefix}/{class}``.  Which backends receive them is the
    config's ``visualizer.vis_backends``: ``LocalVisBackend`` keeps the PNGs in
    ``<work_dir>/<timestamp>/vis_data/vis_image/`` and the numbers in ``scalars.json``;
    ``TensorboardVisBackend`` (needs the ``tensorboard`` package) writes both to an
    event file.  Enable it with::

        custom_hooks = [dict(type='ERCVisualizationHook')]

    Args:
        interval: draw every ``interval``-th validation.
        by_epoch: steps are epochs (as the logger's validation scalars); else iterations.
        image_name: the image's name in the backends.
        scalar_prefix: prefix of the per-class F1 scalars.
    """

    priority = 'LOW'

    def __init__(self, interval: int = 1, by_epoch: bool = True,
                 image_name: str = 'val_confusion_matrix',
                 scalar_prefix: str = 'val_per_class_f1') -> None:
        if interval < 1:
            raise ValueError(f'ERCVisualizationHook: interval must be >= 1, got {interval}')
        self.interval = interval
        self.by_epoch = by_epoch
        self.image_name = image_name
        self.scalar_prefix = scalar_prefix
        self._validations = 0
        self._seen: Dict[object, tuple] = {}

    def before_val_epoch(self, runner) -> None:
        self._seen = {}

    def after_val_iter(self, runner, batch_idx: int, data_batch=None,
                       outputs: Optional[Sequence] = None) -> None:
        for i, sample in enumerate(outputs or []):
            # the key drops the copies a distributed sampler adds to even out the ranks
            key = sample.metainfo.get('sample_idx', (get_rank(), batch_idx, i))
            self._seen[key] = (sample.gt_label.reshape(-1).cpu().numpy(),
                               sample.pred_label.reshape(-1).cpu().numpy())

    def after_val_epoch(self, runner, metrics: Optional[Dict[str, float]] = None) -> None:
        self._validations += 1
        if self._validations % self.interval:
            return
        seen = self._seen
        if get_world_size() > 1:
            seen = {}
            for part in all_gather_object(self._seen):
                seen.update(part)
        if get_rank() != 0 or not seen:
            return
        classes = self._classes(runner)
        keys = sorted(seen, key=str)
        y_true = np.concatenate([seen[k][0] for k in keys])
        y_pred = np.concatenate([seen[k][1] for k in keys])
        summary = confusion_summary(y_true, y_pred, classes)
        step = runner.epoch if self.by_epoch else runner.iter
        what = 'epoch' if self.by_epoch else 'iteration'
        fig = plot_confusion_matrix(np.asarray(summary['counts']), classes,
                                    f'validation after {what} {step}',
                                    summary['per_class_f1'])
        runner.visualizer.add_image(self.image_name, figure_to_array(fig), step=step)
        runner.visualizer.add_scalars(
            {f'{self.scalar_prefix}/{c}': f for c, f in zip(classes, summary['per_class_f1'])},
            step=step)

    @staticmethod
    def _classes(runner) -> list:
        meta = runner.val_dataloader.dataset.metainfo or {}
        if not meta.get('classes'):
            raise ValueError('ERCVisualizationHook: the validation dataset\'s metainfo has '
                             'no "classes" to name the confusion matrix\'s rows')
        return list(meta['classes'])

"""Controls VEGA's self-distillation during training."""
from typing import List, Optional, Tuple

import torch

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from vega_mm.registry import HOOKS


@HOOKS.register_module()
class SelfDistillationHook(Hook):
    """Ramps the distillation weights from 0 to their configured values and logs the
    learned temperatures.

    The ramp factor is derived from the runner's state (``runner.iter`` or
    ``runner.epoch`` and the position in the epoch) before every training step, so a
    resumed run uses exactly the factors of an uninterrupted one.  With no warm-up
    (the faithful configs) the factor is always 1.

    Args:
        warmup_epochs: epochs of linear warm-up (fractional progress within an epoch).
        warmup_iters: iterations of linear warm-up (used if ``warmup_epochs`` is 0).
        log_temperatures: log each head's learned temperatures and the factor, as
            ``T_<head path>_<branch>`` (e.g. ``T_vega_head_text``) and
            ``kd_scale_<head path>``.
    """

    priority = 'NORMAL'

    def __init__(self, warmup_epochs: float = 0, warmup_iters: int = 0,
                 log_temperatures: bool = True) -> None:
        if warmup_epochs < 0 or warmup_iters < 0:
            raise ValueError('SelfDistillationHook: warm-up lengths must be >= 0')
        if warmup_epochs and warmup_iters:
            raise ValueError('SelfDistillationHook: give warmup_epochs or warmup_iters, '
                             'not both')
        self.warmup_epochs = warmup_epochs
        self.warmup_iters = warmup_iters
        self.log_temperatures = log_temperatures

    @staticmethod
    def _heads(runner) -> List[Tuple[str, torch.nn.Module]]:
        """(name, module) of every module with a ``kd_scale`` (the heads' loss modules,
        a ``DualBranchHead``); the name is the path of the head that owns it
        (``head``, ``label_head``, ``vega_head``...)."""
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        return [(_owner(name).replace('.', '_') or 'model', m)
                for name, m in model.named_modules() if hasattr(m, 'kd_scale')]

    def factor(self, runner, batch_idx: int) -> float:
        """The distillation factor for the coming step, in [0, 1]."""
        if self.warmup_iters:
            return min(1.0, runner.iter / self.warmup_iters)
        if self.warmup_epochs:
            try:
                per_epoch = len(runner.train_dataloader)
            except TypeError:  # an iterable without length: fall back to whole epochs
                per_epoch = 0
            progress = runner.epoch + (batch_idx / per_epoch if per_epoch else 0.0)
            return min(1.0, progress / self.warmup_epochs)
        return 1.0

    def before_train_iter(self, runner, batch_idx: int, data_batch: Optional[dict] = None
                          ) -> None:
        value = self.factor(runner, batch_idx)
        for _, head in self._heads(runner):
            head.kd_scale = value

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if not self.log_temperatures:
            return
        hub = runner.message_hub
        for name, head in self._heads(runner):
            hub.update_scalar(f'train/kd_scale_{name}', head.kd_scale)
            temperatures = head.temperatures() if hasattr(head, 'temperatures') else {}
            for branch, t in temperatures.items():
                hub.update_scalar(f'train/T_{name}_{branch}', t)


def _owner(name: str) -> str:
    """A loss module is logged under its head, inside the model's one head by its own
    name: ``head.vega_head.loss_module`` -> ``vega_head``, ``head.loss_module`` ->
    ``head``."""
    suffix = '.loss_module'
    if name == 'loss_module':
        return ''
    name = name[:-len(suffix)] if name.endswith(suffix) else name
    return name[len('head.'):] if name.startswith('head.') else name

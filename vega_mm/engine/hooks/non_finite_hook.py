"""Stop at the first non-finite number: a loss in training, a weight in a checkpoint."""
import math
from typing import Any, Mapping, Optional

from mmengine.hooks import Hook

from vega_mm.registry import HOOKS
from vega_mm.utils.checkpoint import CheckpointError, non_finite_entries


@HOOKS.register_module()
class NonFiniteCheckHook(Hook):
    """Refuse NaN/Inf: in a training step's losses and in a loaded checkpoint's weights.

    A loss term of a training step that is NaN or Inf raises ``FloatingPointError``.
    Without it a run whose losses turned NaN (a NaN anchor, a diverging learning rate)
    trains to the end, exits 0 and even saves a "best" checkpoint. The error names the
    epoch, the iteration and every non-finite loss term. It runs before the checkpoint
    hook (priority ``ABOVE_NORMAL``), so no checkpoint of the broken state is saved.

    A checkpoint (``load_from``, ``--resume``, the best checkpoint evaluated after
    training) whose floating-point tensors hold NaN or Inf raises
    :class:`~vega_mm.utils.checkpoint.CheckpointError` before it reaches the model.

    ``ConversationRunner`` adds this hook to every run whose config does not list it.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self, runner: Any, batch_idx: int,
                         data_batch: Any = None,
                         outputs: Optional[Mapping[str, Any]] = None) -> None:
        if not outputs:
            return
        bad = {}
        for name, value in outputs.items():
            if not name.startswith('loss'):
                continue
            value = float(value.detach().float().mean()) if hasattr(value, 'detach') \
                else float(value)
            if not math.isfinite(value):
                bad[name] = value
        if not bad:
            return
        # name the terms, not only the total (which is non-finite as soon as one is)
        terms = {k: v for k, v in bad.items() if k != 'loss'} or bad
        listed = ', '.join(f'{k}={v}' for k, v in terms.items())
        raise FloatingPointError(
            f'non-finite loss at epoch {runner.epoch + 1}, iteration {runner.iter + 1} '
            f'(batch {batch_idx + 1} of the epoch): {listed}. Training stopped; the last '
            'saved checkpoint is from before this step. Check the inputs and anchors for '
            'NaN/Inf and the learning rate')

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        bad = non_finite_entries(checkpoint.get('state_dict', checkpoint))
        if bad:
            raise CheckpointError(f'holds non-finite weights: {"; ".join(bad)}')

"""Early stopping whose state survives an interruption and resume."""
from mmengine.hooks import EarlyStoppingHook

from vega_mm.registry import HOOKS

__all__ = ['ResumableEarlyStoppingHook']


@HOOKS.register_module()
class ResumableEarlyStoppingHook(EarlyStoppingHook):
    """mmengine's ``EarlyStoppingHook`` whose patience counter and best score survive a
    resume (kept in the checkpoint's ``meta``).

    It runs before the checkpoint hook (priority ``LOW``, MMEngine's is ``LOWEST``), so
    the checkpoint written after a validation holds the state that validation left.
    """

    priority = 'LOW'
    _KEY = 'early_stopping'

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        checkpoint.setdefault('meta', {})[self._KEY] = dict(
            wait_count=int(self.wait_count), best_score=float(self.best_score))

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        state = checkpoint.get('meta', {}).get(self._KEY)
        if state:
            self.wait_count = state['wait_count']
            self.best_score = state['best_score']

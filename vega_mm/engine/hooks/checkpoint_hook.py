"""Checkpoints that survive a kill at any moment."""
import contextlib
import os
import os.path as osp
import shutil
from typing import Any, Iterator, List

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook

from vega_mm.registry import HOOKS
from vega_mm.utils.checkpoint import CheckpointError, register_atomic_backend


class _DeferredRemoval:
    """A file backend whose ``remove``/``rmtree`` only record the path; the rest
    goes to the wrapped backend."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend
        self.pending: List[str] = []

    def remove(self, path: str) -> None:
        self.pending.append(path)

    def rmtree(self, path: str) -> None:
        self.pending.append(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """MMEngine's ``CheckpointHook`` that never leaves a run without a complete
    checkpoint.

    MMEngine writes checkpoints in place and, with ``max_keep_ckpts``, deletes the
    previous one (and the previous ``best_*.pth``) *before* the new one is written: a
    kill during the save leaves a truncated file and nothing to resume from. Here

    - every file is written to a temporary file in the same folder and renamed into
      place (:data:`~vega_mm.utils.checkpoint.ATOMIC_BACKEND`), so a file with a
      checkpoint's name is always complete; a full disk is a
      :class:`~vega_mm.utils.checkpoint.CheckpointError` naming the file;
    - old checkpoints are deleted only after the new one is complete;
    - a run resumed from another run's checkpoint gets its own copy of that run's best
      checkpoint, so ``results.json`` never names files of another work dir;
    - in an epoch that ends with a validation, ``epoch_k.pth`` is written after that
      validation (MMEngine writes it before): the best score and the early-stopping
      state it carries include validation k, so a run resumed from it continues exactly
      as the uninterrupted run (a crash during validation k loses epoch k's training).

    Arguments are ``CheckpointHook``'s; ``backend_args`` defaults to the atomic backend
    (a config that sets ``backend_args`` or ``file_client_args`` keeps its own).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if kwargs.get('backend_args') is None and kwargs.get('file_client_args') is None:
            kwargs['backend_args'] = dict(backend=register_atomic_backend())
        super().__init__(*args, **kwargs)

    def before_train(self, runner: Any) -> None:
        super().before_train(runner)
        if self.save_best is not None and len(self.key_indicators) == 1:
            self._adopt_best_checkpoint(runner)

    def _validates_after(self, runner: Any) -> bool:
        """Whether the epoch now ending is followed by a validation (the train loop's
        rule; a loop with dynamic intervals is not predicted: False)."""
        loop = runner.train_loop
        if getattr(runner, '_val_loop', None) is None or \
                len(getattr(loop, 'dynamic_milestones', [0])) > 1:
            return False
        epoch = runner.epoch + 1
        return epoch >= loop.val_begin and (
            epoch % loop.val_interval == 0 or epoch == loop.max_epochs)

    def after_train_epoch(self, runner: Any) -> None:
        self._deferred = False
        if self.by_epoch and self._validates_after(runner):
            # MMEngine's rule for saving now; the save waits for after_val_epoch
            self._deferred = self.every_n_epochs(runner, self.interval, self.save_begin) or (
                self.save_last and self.is_last_train_epoch(runner))
            return
        super().after_train_epoch(runner)

    def after_val_epoch(self, runner: Any, metrics: dict) -> None:
        if getattr(self, '_deferred', False):
            self._deferred = False
            # runner.epoch already counts the finished epoch here (MMEngine adds 1
            # after after_train_epoch), so the step and meta are the epoch's own
            epoch = runner.epoch
            runner.logger.info(f'Saving checkpoint at {epoch} epochs (after validation)')
            self._save_checkpoint_with_step(runner, epoch, dict(epoch=epoch, iter=runner.iter))
        # a new best is saved, then epoch_k again with the new best score (MMEngine's)
        super().after_val_epoch(runner, metrics)

    def _adopt_best_checkpoint(self, runner: Any) -> None:
        """After resuming another run's checkpoint, copy its best checkpoint here."""
        best = self.best_ckpt_path
        if not best:
            return
        own = osp.join(self.out_dir, osp.basename(best))
        if osp.abspath(osp.dirname(best)) == osp.abspath(self.out_dir):
            return
        if is_main_process():  # rank 0 copies; every rank evaluates the copy later
            if not osp.isfile(best):
                raise CheckpointError(
                    f'the resumed checkpoint names {best!r} as the best checkpoint so far, '
                    f'but that file does not exist; copy it into {self.out_dir!r} or start '
                    'a new run')
            runner.logger.warning(f'resumed from another run: its best checkpoint {best!r} '
                                  f'is copied to {own!r}')
            tmp = own + '.copying'
            shutil.copyfile(best, tmp)
            os.replace(tmp, own)
        self.best_ckpt_path = own
        runner.message_hub.update_info('best_ckpt', own)

    @contextlib.contextmanager
    def _removal_after_save(self) -> Iterator[None]:
        """Defer the parent's deletions until the body (the save) has succeeded."""
        backend = self.file_backend
        deferred = _DeferredRemoval(backend)
        self.file_backend = deferred
        try:
            yield
        finally:
            self.file_backend = backend
        # only reached when the save succeeded: now the old files may go
        keep = {osp.abspath(p) for p in (self.last_ckpt, getattr(self, 'best_ckpt_path', None))
                if p}
        for path in deferred.pending:
            if osp.abspath(path) in keep:
                continue
            if backend.isfile(path):
                backend.remove(path)
            elif backend.isdir(path):
                backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner: Any, step: int, meta: dict) -> None:
        with self._removal_after_save():
            super()._save_checkpoint_with_step(runner, step, meta)

    def _save_best_checkpoint(self, runner: Any, metrics: dict) -> None:
        with self._removal_after_save():
            super()._save_best_checkpoint(runner, metrics)

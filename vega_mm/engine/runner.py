"""The Runner of vega_mm experiments."""
import copy
from typing import Any, Dict, List, Optional, Sequence, Tuple

from mmengine.config import Config
from mmengine.runner import Runner

from vega_mm.registry import RUNNERS
from vega_mm.utils.checkpoint import (CheckpointError, checkpoint_problem,
                                      find_intact_checkpoint, mismatch_error,
                                      register_checkpoint_loader)
from vega_mm.utils.config import apply_modalities, check_config

#: Hooks every vega_mm run gets, whether or not its config lists them.
_ALWAYS_HOOKS = (dict(type='NonFiniteCheckHook'), dict(type='StateDictDigestHook'))


def _fused_adamw_on_cpu() -> bool:
    """Whether this PyTorch has the fused AdamW kernel for CPU tensors (2.4 and later)."""
    import torch
    major, minor = (int(x) for x in torch.__version__.split('.')[:2])
    return (major, minor) >= (2, 4)


def portable_optimizer(cfg: Config) -> None:
    """``optimizer.fused=True`` on a PyTorch without that kernel for the tensors' device
    (CPU before 2.4) -> ``foreach=True``, the same update up to rounding, with a
    warning; changes ``cfg`` in place."""
    import torch
    from mmengine.logging import print_log
    opt = (cfg.get('optim_wrapper') or {}).get('optimizer') or {}
    if not opt.get('fused') or torch.cuda.is_available() or _fused_adamw_on_cpu():
        return
    opt['fused'] = None
    opt['foreach'] = True
    print_log(f'optim_wrapper.optimizer.fused=True needs PyTorch >= 2.4 on the CPU (this '
              f'is {torch.__version__}); using foreach=True, the same update up to '
              'rounding', logger='current', level=30)


def conversation_collate_fn(cfg: Config) -> None:
    """A conversation model's data loaders that name MMEngine's ``pseudo_collate`` (or no
    collate: MMEngine's default), as configs written before the one collate did, get
    ``vega_mm.conversation_collate``, which pads the batch the model reads, with a
    warning; changes ``cfg`` in place (a run dumped by an earlier version still tests)."""
    from mmengine.logging import print_log
    if (cfg.get('model') or {}).get('type') != 'ConversationClassifier':
        return
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg.get(key)
        if not isinstance(loader, dict):
            continue
        collate = loader.get('collate_fn')
        if collate is None or (isinstance(collate, dict) and
                               collate.get('type') in ('pseudo_collate', 'default_collate')):
            loader['collate_fn'] = dict(type='vega_mm.conversation_collate')
            print_log(f'{key}.collate_fn={collate!r} gives the model unpadded dialogues; '
                      "using collate_fn=dict(type='vega_mm.conversation_collate') (set it "
                      'in the config)', logger='current', level=30)


def check_train_data(model: Any, dataset: Any) -> None:
    """Let the model's head refuse training data that lacks what it reads (a head with
    a ``check_train_data(dataset)`` method, e.g. GraphSmileHead reading sentiments),
    before the first step rather than at the first batch."""
    head = getattr(getattr(model, 'module', model), 'head', None)
    check = getattr(head, 'check_train_data', None)
    if callable(check):
        check(dataset)


@RUNNERS.register_module()
class ConversationRunner(Runner):
    """MMEngine's ``Runner``, built after the config's ``modalities`` declaration has
    been applied to the model, datasets and pipelines
    (:func:`~vega_mm.utils.config.apply_modalities`), with the checks a trustworthy run
    needs:

    - the config is checked before anything is built
      (:func:`~vega_mm.utils.config.check_config`: unread keys, ``max_epochs``, a
      ``save_best`` metric the evaluator produces);
    - every run stops at the first non-finite loss (``NonFiniteCheckHook``);
    - every checkpoint it saves records the SHA-256 of its weights, checked whenever a
      checkpoint is loaded (``StateDictDigestHook``);
    - checkpoints (``load_from``, ``--resume``, evaluation) must fit the model exactly
      and hold finite weights (``NonFiniteCheckHook``); otherwise a
      :class:`CheckpointError` names the file and the first mismatching keys and shapes;
    - an automatic ``--resume`` falls back, with a warning, to the newest intact
      checkpoint of the work dir when the newest is truncated or missing;
    - local checkpoints are read without allowing them to run code (building the runner
      installs :func:`~vega_mm.utils.register_checkpoint_loader`);
    - a conversation model's data loaders pad with ``vega_mm.conversation_collate``
      (:func:`conversation_collate_fn`).

    Configs select it with ``runner_type = 'ConversationRunner'`` (the default runtime
    does); ``tools/train.py`` builds it with ``RUNNERS.build(cfg)``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        register_checkpoint_loader()  # before anything can load a checkpoint
        super().__init__(*args, **kwargs)

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'ConversationRunner':
        # checked before the declaration is applied: it changes the pipelines, which
        # would then differ from the helper variables they were built from
        cfg = apply_modalities(check_config(copy.deepcopy(cfg)))
        portable_optimizer(cfg)
        conversation_collate_fn(cfg)
        return super().from_cfg(cfg)

    def train(self) -> Any:
        if self._train_loop is not None:
            # the loop builds the training data; the head checks it before any step
            self._train_loop = self.build_train_loop(self._train_loop)
            check_train_data(self.model, self._train_loop.dataloader.dataset)
        return super().train()

    def register_hooks(self, default_hooks: Optional[Dict] = None,
                       custom_hooks: Optional[List] = None) -> None:
        super().register_hooks(default_hooks, custom_hooks)
        present = {type(hook).__name__ for hook in self.hooks}
        for hook in _ALWAYS_HOOKS:
            if hook['type'] not in present:
                self.register_hook(copy.deepcopy(hook))

    def load_or_resume(self) -> None:
        if self._has_loaded:
            return
        if self._resume and self._load_from is None:
            path, skipped = find_intact_checkpoint(self.work_dir)
            for bad, why in skipped:
                self.logger.warning(f'--resume: skipping checkpoint {bad}: {why}')
            if path is None:
                if skipped:
                    raise CheckpointError(
                        f'--resume: no intact checkpoint in {self.work_dir!r} (tried '
                        f'{", ".join(p for p, _ in skipped)})')
                self.logger.info(f'--resume: no checkpoint in {self.work_dir}; training '
                                 'from the start')
                return
            if skipped:
                self.logger.warning(f'--resume: falling back to the newest intact '
                                    f'checkpoint {path}')
            self.logger.info(f'Auto resumed from the latest checkpoint {path}.')
            self.resume(path)
            self._has_loaded = True
            return
        if self._load_from is not None:
            problem = checkpoint_problem(self._load_from)
            if problem is not None:
                what = '--resume' if self._resume else 'load_from'
                raise CheckpointError(f'{what}: checkpoint {self._load_from!r} is {problem}')
        super().load_or_resume()

    def load_checkpoint(self, filename: str, map_location: Any = 'cpu',
                        strict: bool = False,
                        revise_keys: Sequence[Tuple[str, str]] = ((r'^module.', ''), )
                        ) -> Dict[str, Any]:
        """MMEngine's ``load_checkpoint``, always strict, refusing non-finite weights.

        ``strict`` is accepted for compatibility and ignored: a checkpoint that does not
        fit the config would otherwise be evaluated on a partly random model.

        Raises:
            CheckpointError: naming the file and the first mismatching keys and shapes,
                or the first tensors holding NaN/Inf.
        """
        try:
            checkpoint = super().load_checkpoint(
                filename, map_location=map_location, strict=True,
                revise_keys=list(revise_keys))
        except CheckpointError as exc:  # from a hook, which does not know the file
            if filename in str(exc):
                raise
            raise CheckpointError(f'checkpoint {filename!r} {exc}') from None
        except RuntimeError as exc:
            error = mismatch_error(exc, filename, self.cfg.filename)
            if error is None:
                raise
            raise error from None
        return checkpoint


def build_runner(cfg: Config) -> Runner:
    """The runner a config names (``runner_type``: ``ConversationRunner`` in every
    vega_mm config), or MMEngine's ``Runner`` for a config that names none; either reads
    local checkpoints through :func:`~vega_mm.utils.register_checkpoint_loader`."""
    register_checkpoint_loader()
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)

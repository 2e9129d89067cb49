"""A digest of the weights in every checkpoint, checked whenever one is loaded, and the
vega_mm version that wrote it."""
from typing import Any

from mmengine.hooks import Hook

from vega_mm.registry import HOOKS
from vega_mm.version import __version__
from vega_mm.utils.checkpoint import (DIGEST_KEY, CheckpointError, digest_problem,
                                      state_dict_digest)


@HOOKS.register_module()
class StateDictDigestHook(Hook):
    """Record the SHA-256 of a checkpoint's weights in its ``meta`` when it is saved
    (``meta.state_dict_sha256``, :func:`~vega_mm.utils.checkpoint.state_dict_digest`)
    and check it when one is loaded (``load_from``, ``--resume``, the best checkpoint
    evaluated after training).

    Without it a checkpoint with flipped bytes loads and predicts, e.g. one class with
    probability 1 for every utterance. ``init_model`` (the inferencer, the analysis
    tools) checks the same digest. A checkpoint without one (older, or written by other
    code) loads unchecked.

    It also records the vega_mm version that wrote the checkpoint
    (``meta.vega_mm_version``, beside MMEngine's ``meta.mmengine_version``).

    ``ConversationRunner`` adds this hook to every run whose config does not list it.
    """

    priority = 'ABOVE_NORMAL'

    def before_save_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        meta = checkpoint.setdefault('meta', {})
        meta[DIGEST_KEY] = state_dict_digest(checkpoint['state_dict'])
        meta['vega_mm_version'] = __version__

    def after_load_checkpoint(self, runner: Any, checkpoint: dict) -> None:
        problem = digest_problem(checkpoint)
        if problem is not None:
            raise CheckpointError(problem)

"""The Runner of vega_mm experiments."""
import copy

from mmengine.config import Config
from mmengine.runner import Runner

from vega_mm.registry import RUNNERS
from vega_mm.utils.config import apply_modalities


@RUNNERS.register_module()
class ConversationRunner(Runner):
    """MMEngine's ``Runner``, built after the config's ``modalities`` declaration has
    been applied to the model, datasets and pipelines
    (:func:`~vega_mm.utils.config.apply_modalities`).

    Configs select it with ``runner_type = 'ConversationRunner'`` (the default runtime
    does); ``tools/train.py`` builds it with ``RUNNERS.build(cfg)``.
    """

    @classmethod
    def from_cfg(cls, cfg: Config) -> 'ConversationRunner':
        return super().from_cfg(apply_modalities(copy.deepcopy(cfg)))


def build_runner(cfg: Config) -> Runner:
    """The runner a config names (``runner_type``: ``ConversationRunner`` in every
    vega_mm config), or MMEngine's ``Runner`` for a config that names none."""
    return RUNNERS.build(cfg) if 'runner_type' in cfg else Runner.from_cfg(cfg)

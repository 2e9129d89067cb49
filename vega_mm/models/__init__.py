from vega_mm.utils.mmcv_lite import quiet_mmcv_lite

# The heads build on mmpretrain's models, whose first import warns under mmcv-lite about
# an op vega_mm does not use: loaded here, with that warning hidden (filters restored).
with quiet_mmcv_lite():
    import mmpretrain.models  # noqa: F401

from .anchor_banks import *  # noqa: F401,F403
from .backbones import *  # noqa: F401,F403
from .classifiers import *  # noqa: F401,F403
from .data_preprocessors import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403

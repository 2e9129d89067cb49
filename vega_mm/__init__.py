"""vega_mm: VEGA (Visual Emotion Guided Anchoring) on OpenMMLab MMEngine."""
import warnings

# mmpretrain imports mmcv ops that mmcv-lite does not compile; the warning is noise.
warnings.filterwarnings('ignore', message='Fail to import ``MultiScaleDeformableAttention``')

from .utils.checkpoint import register_checkpoint_loader  # noqa: E402
from .version import __version__  # noqa: E402

register_checkpoint_loader()

__all__ = ['__version__']

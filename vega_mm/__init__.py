"""vega_mm: VEGA (Visual Emotion Guided Anchoring) on OpenMMLab MMEngine.

Importing vega_mm changes nothing outside it: the restricted checkpoint loading is
installed where vega_mm loads checkpoints (its runner, ``init_model``), see
:func:`vega_mm.utils.register_checkpoint_loader`.
"""
from .version import __version__

__all__ = ['__version__']

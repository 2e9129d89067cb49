"""vega_mm: VEGA (Visual Emotion Guided Anchoring) on OpenMMLab MMEngine.

Importing vega_mm changes nothing outside it but one entry: it adds its own name to
MMEngine's table of OpenMMLab packages (``mmengine.config.utils.MODULE2PACKAGE``), so
that ``vega_mm::`` config paths (``_base_ = ['vega_mm::vega/vega_meld.py']``,
``mmengine.hub.get_config('vega_mm::vega/vega_synthetic.py')``) resolve to the configs
inside the installed package. The restricted checkpoint loading is installed where
vega_mm loads checkpoints (its runner, ``init_model``), see
:func:`vega_mm.utils.register_checkpoint_loader`.
"""
from mmengine.config.utils import MODULE2PACKAGE

from .version import __version__

# module name -> distribution name, as MMEngine lists mmpretrain and the others
MODULE2PACKAGE.setdefault('vega_mm', 'vega_mm')

__all__ = ['__version__']

"""mmcv-lite: the one warning of mmpretrain's that vega_mm hides, and only around its own
import of mmpretrain's models."""
import contextlib
import warnings
from typing import Iterator

__all__ = ['MMCV_LITE_WARNING', 'quiet_mmcv_lite']

#: What ``mmcv.cnn.bricks.transformer`` warns, once, when mmcv-lite (no compiled ops) is
#: installed: mmpretrain's models import it, vega_mm uses none of the ops it lacks.
MMCV_LITE_WARNING = 'Fail to import ``MultiScaleDeformableAttention``'


@contextlib.contextmanager
def quiet_mmcv_lite() -> Iterator[None]:
    """Ignore :data:`MMCV_LITE_WARNING` inside the block, and only there.

    On exit the warning filters are what they were, plus any filter that a module
    imported inside the block installed (``warnings.catch_warnings`` alone would drop
    those). Use it around the import that first loads ``mmpretrain.models``::

        with quiet_mmcv_lite():
            import mmpretrain.models  # noqa: F401
    """
    before = list(warnings.filters)
    added = []
    with warnings.catch_warnings():
        warnings.filterwarnings('ignore', message=MMCV_LITE_WARNING)
        ours = warnings.filters[0]
        try:
            yield
        finally:
            added = [f for f in warnings.filters if f is not ours and f not in before]
    for action, message, category, module, lineno in reversed(added):
        warnings.filterwarnings(action, message.pattern if message else '', category,
                                module.pattern if module else '', lineno)

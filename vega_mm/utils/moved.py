"""Clear errors for public names that moved to another package.

A user who imports a moved name from its old, documented place gets an
:class:`ImportError` naming the new place, instead of a bare "cannot import name"::

    from vega_mm.encoders import WhisperTranscriber
    ImportError: vega_mm.encoders.WhisperTranscriber moved to vega_mm.speech

Nothing outside vega_mm changes (no import hook): the old package answers for its own
attributes only.
"""
from typing import Any, Callable, Dict

__all__ = ['moved_attribute']


def moved_attribute(package: str, moved: Dict[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` (PEP 562) for ``package``: ``moved`` maps an old name (of
    an object or a submodule) to where it is now; any other name is an ordinary
    ``AttributeError``."""

    def __getattr__(name: str) -> Any:
        if name in moved:
            # ImportError, not AttributeError: ``from package import name`` would replace
            # an AttributeError by Python's own message, which does not name the new place.
            raise ImportError(f'{package}.{name} moved to {moved[name]}', name=package)
        raise AttributeError(f'module {package!r} has no attribute {name!r}')

    return __getattr__

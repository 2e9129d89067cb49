"""Clear errors for names and modules that moved to another package.

A user who imports a moved public name or module from its old, documented place gets an
:class:`ImportError` naming the new place, instead of a bare "cannot import name"::

    from vega_mm.encoders import WhisperTranscriber
    ImportError: vega_mm.encoders.WhisperTranscriber moved to vega_mm.speech
"""
import importlib.abc
import sys
from typing import Any, Callable, Dict, Optional

__all__ = ['moved_attribute', 'MovedModules', 'forward_moved_modules']


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


class MovedModules(importlib.abc.MetaPathFinder):
    """A finder that refuses modules that moved, naming their new place."""

    def __init__(self) -> None:
        self.moved: Dict[str, str] = {}

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Optional[Any]:
        new = self.moved.get(fullname)
        if new is not None:
            raise ModuleNotFoundError(f'{fullname} moved to {new}', name=fullname)
        return None


def forward_moved_modules(moved: Dict[str, str]) -> None:
    """Add ``{old module: new module}`` to the one :class:`MovedModules` finder (installed
    once, at the end of ``sys.meta_path``, so it only sees modules nothing else finds)."""
    finder = next((f for f in sys.meta_path if isinstance(f, MovedModules)), None)
    if finder is None:
        finder = MovedModules()
        sys.meta_path.append(finder)
    finder.moved.update(moved)

"""The split rule of every reader, :func:`make_val_split`: it lives in
:mod:`vega_mm.structures.splits` (raw conversation tables use it too); importable from
here, its documented place."""
from vega_mm.structures.splits import make_val_split, natural_key

__all__ = ['natural_key', 'make_val_split']

from .sdt import SDTBackbone

# The backbone's name before it was named as one (still registered).
SDTNeck = SDTBackbone

__all__ = ['SDTBackbone', 'SDTNeck']

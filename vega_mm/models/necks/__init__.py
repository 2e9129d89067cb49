from .sdt_neck import SDTNeck

__all__ = ['SDTNeck']

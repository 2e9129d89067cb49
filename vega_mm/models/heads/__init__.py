from .branch_losses import BranchLossMixin
from .multi_branch_head import MultiBranchClsHead
from .vega_head import VEGAHead

__all__ = ['BranchLossMixin', 'MultiBranchClsHead', 'VEGAHead']

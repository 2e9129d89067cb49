from .branch_losses import BranchLossMixin
from .dual_branch_head import DualBranchHead
from .multi_branch_head import MultiBranchClsHead
from .vega_head import VEGAHead

__all__ = ['BranchLossMixin', 'DualBranchHead', 'MultiBranchClsHead', 'VEGAHead']

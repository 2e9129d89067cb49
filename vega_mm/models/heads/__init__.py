from .branch_head import PREDICT_WITH, BranchHead, pool_features, prediction_logits
from .dual_branch_head import DualBranchHead
from .label_head import LabelHead
from .vega_head import VEGAHead

# The label head's name before the head contract was unified (still registered).
MultiBranchClsHead = LabelHead

__all__ = ['BranchHead', 'LabelHead', 'MultiBranchClsHead', 'VEGAHead', 'DualBranchHead',
           'PREDICT_WITH', 'prediction_logits', 'pool_features']

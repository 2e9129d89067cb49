from .branch_head import PREDICT_WITH, BranchHead, pool_features, prediction_logits
from .dual_branch_head import ANCHOR_PREFIX, DualBranchHead
from .graphsmile_head import GraphSmileHead
from .label_head import LabelHead
from .linear_head import LinearLabelHead
from .vega_head import VEGAHead

__all__ = ['BranchHead', 'LabelHead', 'LinearLabelHead', 'VEGAHead', 'DualBranchHead', 'ANCHOR_PREFIX',
           'PREDICT_WITH', 'prediction_logits', 'pool_features', 'GraphSmileHead']

"""Registries of vega_mm.

Every registry is a child of the matching mmpretrain registry (itself a child of
mmengine's root registries), under the scope ``vega_mm``.  A config with
``default_scope='vega_mm'`` therefore finds vega_mm's own modules first and falls back
to mmpretrain's and mmengine's, so mmpretrain backbones, heads and metrics can be mixed
with ours.  ``locations`` makes the Runner import our modules lazily on first use.
"""
from mmpretrain.registry import DATA_SAMPLERS as MMPRE_DATA_SAMPLERS
from mmpretrain.registry import DATASETS as MMPRE_DATASETS
from mmpretrain.registry import EVALUATORS as MMPRE_EVALUATOR
from mmpretrain.registry import HOOKS as MMPRE_HOOKS
from mmpretrain.registry import LOG_PROCESSORS as MMPRE_LOG_PROCESSORS
from mmpretrain.registry import LOOPS as MMPRE_LOOPS
from mmpretrain.registry import METRICS as MMPRE_METRICS
from mmpretrain.registry import MODEL_WRAPPERS as MMPRE_MODEL_WRAPPERS
from mmpretrain.registry import MODELS as MMPRE_MODELS
from mmpretrain.registry import OPTIM_WRAPPER_CONSTRUCTORS as MMPRE_OPTIM_WRAPPER_CONSTRUCTORS
from mmpretrain.registry import OPTIM_WRAPPERS as MMPRE_OPTIM_WRAPPERS
from mmpretrain.registry import OPTIMIZERS as MMPRE_OPTIMIZERS
from mmpretrain.registry import PARAM_SCHEDULERS as MMPRE_PARAM_SCHEDULERS
from mmpretrain.registry import RUNNER_CONSTRUCTORS as MMPRE_RUNNER_CONSTRUCTORS
from mmpretrain.registry import RUNNERS as MMPRE_RUNNERS
from mmpretrain.registry import TASK_UTILS as MMPRE_TASK_UTILS
from mmpretrain.registry import TRANSFORMS as MMPRE_TRANSFORMS
from mmpretrain.registry import VISBACKENDS as MMPRE_VISBACKENDS
from mmpretrain.registry import VISUALIZERS as MMPRE_VISUALIZERS
from mmpretrain.registry import WEIGHT_INITIALIZERS as MMPRE_WEIGHT_INITIALIZERS
from mmengine.registry import FUNCTIONS as MMENGINE_FUNCTIONS
from mmengine.registry import Registry

__all__ = [
    'RUNNERS', 'RUNNER_CONSTRUCTORS', 'LOOPS', 'HOOKS', 'LOG_PROCESSORS', 'OPTIMIZERS',
    'OPTIM_WRAPPERS', 'OPTIM_WRAPPER_CONSTRUCTORS', 'PARAM_SCHEDULERS', 'DATASETS',
    'DATA_SAMPLERS', 'TRANSFORMS', 'FUNCTIONS', 'MODELS', 'MODEL_WRAPPERS', 'WEIGHT_INITIALIZERS',
    'TASK_UTILS', 'METRICS', 'EVALUATOR', 'VISUALIZERS', 'VISBACKENDS', 'ANCHOR_ENCODERS',
    'FACE_DETECTORS', 'FEATURE_EXTRACTORS'
]

_SCOPE = 'vega_mm'
# The location of the registries that hold no vega_mm module. A registry of a package
# that MMEngine knows (vega_mm adds itself, see vega_mm/__init__.py) and that has no
# location makes MMEngine call `vega_mm.utils.register_all_modules`, which vega_mm does
# not have: its modules register where `locations` points.
_NONE = ['vega_mm.registry']

# Runtime
RUNNERS = Registry('runner', parent=MMPRE_RUNNERS, scope=_SCOPE, locations=['vega_mm.engine'])
RUNNER_CONSTRUCTORS = Registry(
    'runner constructor', parent=MMPRE_RUNNER_CONSTRUCTORS, scope=_SCOPE, locations=_NONE)
LOOPS = Registry('loop', parent=MMPRE_LOOPS, scope=_SCOPE, locations=_NONE)
HOOKS = Registry(
    'hook', parent=MMPRE_HOOKS, scope=_SCOPE, locations=['vega_mm.engine'])
LOG_PROCESSORS = Registry(
    'log processor', parent=MMPRE_LOG_PROCESSORS, scope=_SCOPE, locations=_NONE)
OPTIMIZERS = Registry('optimizer', parent=MMPRE_OPTIMIZERS, scope=_SCOPE, locations=_NONE)
OPTIM_WRAPPERS = Registry(
    'optim wrapper', parent=MMPRE_OPTIM_WRAPPERS, scope=_SCOPE, locations=['vega_mm.engine'])
OPTIM_WRAPPER_CONSTRUCTORS = Registry(
    'optimizer wrapper constructor', parent=MMPRE_OPTIM_WRAPPER_CONSTRUCTORS, scope=_SCOPE,
    locations=_NONE)
PARAM_SCHEDULERS = Registry(
    'parameter scheduler', parent=MMPRE_PARAM_SCHEDULERS, scope=_SCOPE, locations=_NONE)

# Data
DATASETS = Registry(
    'dataset', parent=MMPRE_DATASETS, scope=_SCOPE, locations=['vega_mm.datasets'])
DATA_SAMPLERS = Registry('data sampler', parent=MMPRE_DATA_SAMPLERS, scope=_SCOPE, locations=_NONE)
TRANSFORMS = Registry(
    'transform', parent=MMPRE_TRANSFORMS, scope=_SCOPE, locations=['vega_mm.datasets'])
# The batch collate (mmpretrain has no function registry: mmengine's is the parent). The
# Runner looks collate functions up in mmengine's registry, so configs name ours with
# its scope: collate_fn=dict(type='vega_mm.conversation_collate').
FUNCTIONS = Registry(
    'function', parent=MMENGINE_FUNCTIONS, scope=_SCOPE, locations=['vega_mm.datasets'])

# Models
MODELS = Registry(
    'model', parent=MMPRE_MODELS, scope=_SCOPE, locations=['vega_mm.models'])
MODEL_WRAPPERS = Registry(
    'model_wrapper', parent=MMPRE_MODEL_WRAPPERS, scope=_SCOPE,
    locations=['vega_mm.models'])
WEIGHT_INITIALIZERS = Registry(
    'weight initializer', parent=MMPRE_WEIGHT_INITIALIZERS, scope=_SCOPE, locations=_NONE)
TASK_UTILS = Registry('task util', parent=MMPRE_TASK_UTILS, scope=_SCOPE, locations=_NONE)

# Evaluation and visualisation
METRICS = Registry(
    'metric', parent=MMPRE_METRICS, scope=_SCOPE, locations=['vega_mm.evaluation'])
EVALUATOR = Registry('evaluator', parent=MMPRE_EVALUATOR, scope=_SCOPE, locations=_NONE)
VISUALIZERS = Registry('visualizer', parent=MMPRE_VISUALIZERS, scope=_SCOPE, locations=_NONE)
VISBACKENDS = Registry('vis_backend', parent=MMPRE_VISBACKENDS, scope=_SCOPE, locations=_NONE)

# vega_mm's own (no OpenMMLab parent): the image encoders of the anchors and of the
# visual features, face detectors for building visual anchors, and raw-media feature
# extractors.
ANCHOR_ENCODERS = Registry(
    'anchor image encoder', scope=_SCOPE, locations=['vega_mm.encoders'])
FACE_DETECTORS = Registry('face detector', scope=_SCOPE, locations=['vega_mm.anchors'])
FEATURE_EXTRACTORS = Registry(
    'feature extractor', scope=_SCOPE, locations=['vega_mm.features'])

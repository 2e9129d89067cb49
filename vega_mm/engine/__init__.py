from .hooks import *  # noqa: F401,F403
from .optimizers import BF16AmpOptimWrapper
from .runner import ConversationRunner, build_runner

__all__ = ['ConversationRunner', 'build_runner', 'BF16AmpOptimWrapper']

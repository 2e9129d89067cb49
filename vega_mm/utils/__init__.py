from .compat import register_checkpoint_loader, setup_cpu_distributed

__all__ = ['register_checkpoint_loader', 'setup_cpu_distributed']

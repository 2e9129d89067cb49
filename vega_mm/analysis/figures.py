"""Matplotlib figures without pyplot: no global state, no display needed (Agg)."""
import os
import os.path as osp
from typing import Tuple

import numpy as np

__all__ = ['new_figure', 'figure_to_array', 'save_figure', 'class_colors']


def new_figure(size: Tuple[float, float]):
    """A :class:`matplotlib.figure.Figure` drawn by the Agg canvas.

    Figures made this way are not registered with pyplot, so library code neither
    changes the user's backend nor leaks figures when called once per epoch.

    Args:
        size: (width, height) in inches.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=size, layout='constrained')
    FigureCanvasAgg(fig)
    return fig


def figure_to_array(fig) -> np.ndarray:
    """Render a figure to an RGB image, uint8 [H, W, 3] (what visualizer backends take)."""
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., :3].copy()


def save_figure(fig, path: str, dpi: int = 120) -> str:
    """Save ``fig`` as ``path`` (its folder is created) and return the path."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    return path


def class_colors(num_classes: int) -> list:
    """One distinct colour per class (tab10, tab20 beyond ten classes)."""
    from matplotlib import colormaps
    cmap = colormaps['tab10' if num_classes <= 10 else 'tab20']
    return [cmap(i % cmap.N) for i in range(num_classes)]

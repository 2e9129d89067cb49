"""Parameters and FLOPs of a conversation model at a given dialogue length."""
from typing import Dict, Optional, Sequence

import torch
from torch.utils.flop_counter import (FlopCounterMode, sdpa_backward_flop_count,
                                      sdpa_flop_count)

from vega_mm.datasets import random_dialogue_batch
from .figures import new_figure

__all__ = ['dummy_dialogue_batch', 'count_flops', 'model_complexity', 'top_level_parts',
           'format_flops', 'plot_complexity']

_aten = torch.ops.aten


def _sdpa_cpu(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _sdpa_cpu_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


# PyTorch's counter knows the CUDA attention kernels but not the CPU one that
# scaled_dot_product_attention picks on CPU: without these the attention would count 0.
# (PyTorch before 2.2 has no such CPU kernel: its attention runs as matmuls, counted.)
_CPU_ATTENTION = {
    getattr(_aten, name): count for name, count in (
        ('_scaled_dot_product_flash_attention_for_cpu', _sdpa_cpu),
        ('_scaled_dot_product_flash_attention_for_cpu_backward', _sdpa_cpu_backward))
    if hasattr(_aten, name)
}


def dummy_dialogue_batch(model: torch.nn.Module, length: int, seed: int = 0) -> dict:
    """One collated batch of one random dialogue of ``length`` utterances
    (:func:`~vega_mm.datasets.random_dialogue_batch`) with the model's modalities, input
    dimensions, classes and speakers.

    Raises:
        ValueError: ``length < 1``, or the model's backbone does not say its input
            dimensions.
    """
    if length < 1:
        raise ValueError(f'length must be >= 1, got {length}')
    dims = getattr(model.backbone, 'input_dims', None)
    modalities = tuple(model.modalities)
    if not dims or any(m not in dims for m in modalities):
        raise ValueError(f'{type(model.backbone).__name__} has no input_dims for '
                         f'{list(modalities)}: cannot build a dummy dialogue')
    num_speakers = max(1, int(getattr(model.backbone, 'num_speakers', 2)))
    return random_dialogue_batch({m: dims[m] for m in modalities}, [length],
                                 model.head.num_classes, num_speakers=num_speakers, seed=seed)


def _tracks_modules_itself() -> bool:
    """PyTorch 2.2 and later find the modules that run; before, they must be given."""
    major, minor = (int(x) for x in torch.__version__.split('.')[:2])
    return (major, minor) >= (2, 2)


def count_flops(fn, *args, module: Optional[torch.nn.Module] = None,
                **kwargs) -> Dict[str, object]:
    """FLOPs of ``fn(*args, **kwargs)`` (matrix products, convolutions and attention,
    with CPU attention counted too): ``total`` and ``by_module`` {name: FLOPs}.

    ``module``: the model ``fn`` runs, for the per-module counts on PyTorch before 2.2
    (later versions find the modules themselves)."""
    mods = None if module is None or _tracks_modules_itself() else module
    with FlopCounterMode(mods=mods, display=False,
                         custom_mapping=_CPU_ATTENTION) as counter:
        fn(*args, **kwargs)
    by_module = {name: int(sum(ops.values()))
                 for name, ops in counter.get_flop_counts().items() if name != 'Global'}
    return dict(total=int(counter.get_total_flops()), by_module=by_module)


def model_complexity(model: torch.nn.Module, length: int,
                     seed: Optional[int] = 0) -> Dict[str, object]:
    """Parameters and FLOPs of one dialogue of ``length`` utterances.

    Forward: the inference path (``model.test_step``: preprocessing, backbone, both
    heads, prediction) in eval mode.  Training step: the loss forward in train mode and
    its backward, measured by the same counter (the backward of a matrix product costs
    two products, so this is close to 3x the forward); the optimizer's element-wise
    update is not counted.  Counted are matrix products, convolutions and attention
    (2 FLOPs per multiply-add); element-wise operations (activations, LayerNorm,
    softmax outside attention) are not, as in PyTorch's ``FlopCounterMode``.

    Returns:
        ``length``, ``params``, ``trainable_params``, ``forward_flops``,
        ``forward_flops_per_utterance``, ``train_step_flops``,
        ``train_step_flops_per_utterance``, ``train_to_forward``, ``forward_by_module``
        (FLOPs of each named submodule, nested names included).
    """
    batch = dummy_dialogue_batch(model, length, seed or 0)
    was_training = model.training
    model.eval()
    with torch.no_grad():
        forward = count_flops(model.test_step, batch, module=model)

    def train_step() -> None:
        data = model.data_preprocessor(batch, True)
        loss, _ = model.parse_losses(model(**data, mode='loss'))
        loss.backward()

    model.train()
    if seed is not None:
        torch.manual_seed(seed)
    train = count_flops(train_step)  # its total only: no per-module counts needed
    model.zero_grad(set_to_none=True)
    model.train(was_training)
    params = sum(p.numel() for p in model.parameters())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return dict(
        length=length, params=int(params), trainable_params=int(trainable),
        forward_flops=forward['total'], forward_flops_per_utterance=forward['total'] / length,
        train_step_flops=train['total'],
        train_step_flops_per_utterance=train['total'] / length,
        train_to_forward=train['total'] / max(1, forward['total']),
        forward_by_module=forward['by_module'])


def top_level_parts(result: Dict[str, object]) -> Dict[str, int]:
    """Forward FLOPs of the model's direct children (``backbone``, ``head``, ...)."""
    return {name.split('.', 1)[1]: flops for name, flops in result['forward_by_module'].items()
            if name.count('.') == 1}


def format_flops(flops: float) -> str:
    """``1.23 GFLOPs`` / ``4.56 MFLOPs`` / ``789 kFLOPs``."""
    for scale, unit in ((1e9, 'G'), (1e6, 'M'), (1e3, 'k')):
        if flops >= scale:
            return f'{flops / scale:.3g} {unit}FLOPs'
    return f'{flops:.0f} FLOPs'


def plot_complexity(results: Sequence[Dict[str, object]], title: str = ''):
    """FLOPs per utterance against dialogue length (forward and training step), and
    the forward's split over the model's parts at the first length.

    Args:
        results: from :func:`model_complexity`, one per length.

    Returns:
        A matplotlib ``Figure``.
    """
    fig = new_figure((11.0, 4.2))
    left, right = fig.subplots(1, 2)
    lengths = [r['length'] for r in results]
    for key, label in (('forward_flops_per_utterance', 'forward (inference)'),
                       ('train_step_flops_per_utterance', 'training step (fwd + bwd)')):
        left.plot(lengths, [r[key] / 1e6 for r in results], marker='o', label=label)
    left.set_xlabel('dialogue length L (utterances)')
    left.set_ylabel('MFLOPs per utterance')
    left.set_ylim(bottom=0)
    left.grid(alpha=0.3)
    left.legend(fontsize=9)
    left.set_title('FLOPs per utterance')
    parts = top_level_parts(results[0])
    names = sorted(parts, key=parts.get, reverse=True)
    share = [100.0 * parts[n] / max(1, results[0]['forward_flops']) for n in names]
    right.barh(names, share, color='tab:blue')
    for y, v in enumerate(share):
        right.text(v + 1, y, f'{v:.1f}%', va='center', fontsize=9)
    right.invert_yaxis()
    right.set_xlim(0, 110)
    right.set_xlabel('% of forward FLOPs')
    right.set_title(f'forward by part (L={results[0]["length"]})')
    if title:
        fig.suptitle(title)
    return fig

"""Pieces the graph backbones of the model zoo share (DialogueGCN, MMGCN, M3Net,
GraphSmile).

All graphs of a batch are one disjoint graph over its N real utterances (row-major over
the padding mask, the order of the backbone's output rows), so an edge never joins two
dialogues and never touches a padded position.
"""
from typing import Dict, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

__all__ = ['prefix_lengths', 'node_index', 'packed_lstm', 'derived_hidden_dim', 'modality_slots',
           'missing_graph_extra', 'window_pairs']


def prefix_lengths(who: str, mask: torch.Tensor) -> torch.Tensor:
    """Dialogue lengths [B] of a padding mask, checked to mark each dialogue's first n
    positions (as ConversationDataPreprocessor pads them) and to have no empty dialogue."""
    lengths = mask.sum(1)
    prefix = torch.arange(mask.shape[1], device=mask.device)[None] < lengths[:, None]
    if not torch.equal(prefix, mask):
        raise ValueError(f"{who}: the mask must mark each dialogue's first n positions "
                         '(padding at the end), as ConversationDataPreprocessor makes it')
    if bool((lengths == 0).any()):
        raise ValueError(f'{who}: a dialogue of the batch has no utterance')
    return lengths


def node_index(mask: torch.Tensor) -> torch.Tensor:
    """[B, L] long: the node (output row) of every real position, -1 on padding."""
    idx = torch.full(mask.shape, -1, dtype=torch.long, device=mask.device)
    idx[mask] = torch.arange(int(mask.sum()), device=mask.device)
    return idx


def packed_lstm(lstm: nn.LSTM, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Run a batch-first LSTM on packed sequences: padding never reaches a real step
    (the backward direction starts at each dialogue's last utterance)."""
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    y, _ = lstm(packed)
    y, _ = pad_packed_sequence(y, batch_first=True, total_length=x.shape[1])
    return y


def missing_graph_extra(names: Sequence[str], error: ImportError) -> Tuple[type, ...]:
    """Stand-ins, registered under the graph classes' names, for when PyTorch Geometric
    (the ``graph`` extra) is missing: building one says how to install it in one line."""
    from vega_mm.registry import MODELS
    stubs = []
    for name in names:
        def __init__(self, *args, _name=name, **kwargs):
            raise ImportError(f"{_name} needs PyTorch Geometric: pip install "
                              f"'vega_mm[graph]' (or pip install torch_geometric): {error}")
        cls = type(name, (), dict(__init__=__init__, __doc__=f'{name}: needs PyTorch '
                                  'Geometric, which is not installed.'))
        MODELS.register_module(name=name, module=cls)
        stubs.append(cls)
    return tuple(stubs)


def derived_hidden_dim(who: str, hidden_dim: Optional[int], input_dims: Mapping[str, int],
                       slot_dim: int, formula: str, knobs: str) -> Optional[int]:
    """The width of a backbone whose output concatenates one ``slot_dim`` slot per
    modality (``hidden_dim`` None: derived); a different ``hidden_dim`` is an error
    naming both (``formula``: how ``slot_dim`` is made; ``knobs``: what changes it)."""
    derived = slot_dim * len(input_dims) if input_dims else None
    if hidden_dim is not None and derived is not None and hidden_dim != derived:
        raise ValueError(
            f'{who}.hidden_dim={hidden_dim} but the modalities {sorted(input_dims)} give '
            f'{len(input_dims)} x {formula} = {derived}; leave hidden_dim unset (None) or '
            f'change {knobs}')
    return derived if hidden_dim is None else hidden_dim


def modality_slots(fused: torch.Tensor, modalities: Sequence[str],
                   slot_dim: int) -> Dict[str, torch.Tensor]:
    """``{'fused': fused, m: fused with every slot but m's zero}``: the branches of a
    backbone whose fused feature [N, M slot_dim] concatenates one slot per modality."""
    out = {'fused': fused}
    for k, m in enumerate(modalities):
        own = torch.zeros_like(fused)
        sl = slice(k * slot_dim, (k + 1) * slot_dim)
        own[:, sl] = fused[:, sl]
        out[m] = own
    return out


def window_pairs(mask: torch.Tensor, past: int, future: int) -> Tuple[torch.Tensor, ...]:
    """Every ordered pair (i, j) of real utterances of one dialogue with
    ``-past <= j - i <= future`` (-1: no limit), self-pairs included.

    Returns:
        ``(b, i, j)`` long tensors [E], in the order of ``nonzero`` on [B, L, L].
    """
    L = mask.shape[1]
    pos = torch.arange(L, device=mask.device)
    diff = pos[None, :] - pos[:, None]                   # [i, j] -> j - i
    keep = torch.ones(L, L, dtype=torch.bool, device=mask.device)
    if past >= 0:
        keep &= diff >= -past
    if future >= 0:
        keep &= diff <= future
    pairs = keep[None] & mask[:, :, None] & mask[:, None, :]
    b, i, j = pairs.nonzero(as_tuple=True)
    return b, i, j


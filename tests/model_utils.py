"""Tiny models and batches for the model tests."""
from typing import Dict, Sequence

import torch

from vega_mm.datasets import conversation_collate, random_dialogue_batch, random_dialogues

DIMS = dict(text=12, audio=10, visual=8)


def make_batch(lengths: Sequence[int] = (5, 3), modalities: Sequence[str] = ('text', 'audio',
                                                                           'visual'),
               num_classes: int = 4, num_speakers: int = 2, seed: int = 0) -> Dict:
    """Collated random dialogues (:func:`~vega_mm.datasets.random_dialogue_batch`) with the
    test dimensions :data:`DIMS`."""
    return random_dialogue_batch({m: DIMS[m] for m in modalities}, lengths, num_classes,
                                 num_speakers=num_speakers, seed=seed)


def make_items(lengths: Sequence[int] = (5, 3),
               modalities: Sequence[str] = ('text', 'audio', 'visual'), num_classes: int = 4,
               num_speakers: int = 2, seed: int = 0) -> list:
    """The dialogues of :func:`make_batch` before the collate (packed one by one)."""
    return random_dialogues({m: DIMS[m] for m in modalities}, lengths, num_classes,
                            num_speakers=num_speakers, seed=seed)


def collate(*item_lists: list) -> Dict:
    """Dialogues (lists of packed ones) padded into one batch."""
    return conversation_collate([item for items in item_lists for item in items])


def model_cfg(modalities: Sequence[str] = ('text', 'audio', 'visual'), num_classes: int = 4,
              vega: bool = True, hidden: int = 16, anchor_dim: int = 8) -> dict:
    """A tiny conversation model; the modalities are declared once."""
    branch_weights = dict(fused=1.0, text=1.0, audio=1.0, visual=1.0)
    kd = dict(text=0.5, audio=0.5, visual=0.5)
    loss = dict(branch_weights=branch_weights, kd_loss_weight=0.5, kd_weights=kd)
    cfg = dict(
        type='ConversationClassifier',
        modalities=tuple(modalities),
        num_classes=num_classes,
        backbone=dict(type='SDTBackbone', input_dims=dict(DIMS), hidden_dim=hidden,
                      num_heads=2, dropout=0.1, num_speakers=2),
        head=dict(type='LabelHead', dropout=0.1, loss=dict(loss)))
    if vega:
        cfg['head'] = dict(
            type='DualBranchHead', distill=None, label_head=cfg['head'],
            vega_head=dict(
                type='VEGAHead', proj_dropout=0.1, loss=dict(loss),
                anchor_bank=dict(type='AnchorBank', dim=anchor_dim, random_anchors=True,
                                 num_exemplars=4)))
    return cfg


def to_padded(out: Dict[str, torch.Tensor], mask: torch.Tensor) -> Dict[str, torch.Tensor]:
    """A backbone's packed outputs ``{name: [N, H]}`` -> ``{name: [B, L, H]}`` (zeros at
    padded positions), to compare positions of dialogues."""
    mask = mask.bool()
    padded = {}
    for k, v in out.items():
        full = v.new_zeros(*mask.shape, v.shape[-1])
        full[mask] = v
        padded[k] = full
    return padded


class Padded(torch.nn.Module):
    """A backbone whose outputs are re-padded with :func:`to_padded` (for tests that
    index dialogue positions); attributes are the backbone's."""

    def __init__(self, backbone: torch.nn.Module) -> None:
        super().__init__()
        self.inner = backbone

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.inner, name)

    def forward(self, feats, mask, speakers):
        return to_padded(self.inner(feats, mask, speakers), mask)

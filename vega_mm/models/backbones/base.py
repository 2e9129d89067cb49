"""The backbone contract of vega_mm's conversation models.

Every backbone reads the utterance features of a padded batch of dialogues and returns
one feature per *real* utterance, per branch:

    forward(feats, mask, speakers) -> {modality: [N, H], ..., 'fused': [N, H]}

- ``feats``: ``{modality: [B, L, D_m]}`` (zero-padded), the configured modalities;
- ``mask``: ``[B, L]`` bool, True on the real utterances (each dialogue's first n_b
  positions, as :func:`~vega_mm.datasets.conversation_collate` pads them);
- ``speakers``: ``[B, L]`` long speaker indices in ``[0, num_speakers)`` on the real
  utterances (any value on padded positions: :meth:`ConversationBackbone.forward` gives
  :meth:`~ConversationBackbone.encode` the padding index ``num_speakers`` there);
- output rows are the N = ``mask.sum()`` real utterances in dialogue order (row-major
  over ``mask``), the order of the data samples' concatenated labels.

The input is padded because attention needs each dialogue as a sequence; the output is
packed because everything after the backbone (heads, losses, metrics) works per
utterance and must never see a padded row.

:class:`ConversationBackbone` validates what every backbone declares once, at
construction (modalities and their input dimensions, hidden size, speakers, causality,
the longest dialogue) and every batch against it; subclasses implement :meth:`encode`.
A subclass takes its own arguments and passes the shared ones (``num_speakers``,
``max_len``, ``causal``, ``init_cfg``) on through ``**kwargs``, as mmpretrain's heads
do; its signature (``inspect.signature``, what config checks read) lists both.
"""
import inspect
from typing import Dict, Mapping, Optional, Tuple

import torch
from mmengine.model import BaseModule

from vega_mm.structures.meta import MODALITIES

__all__ = ['ConversationBackbone']


def _positive_int(who: str, name: str, value, allow_none: bool = False) -> Optional[int]:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f'{who}.{name} must be a positive integer'
                         f'{" or None" if allow_none else ""}, got {value!r}')
    return value


def _merged_signature(cls: type) -> inspect.Signature:
    """``cls(...)``'s signature: its own ``__init__`` arguments and, where it passes
    ``**kwargs`` on, those of the class it passes them to (keyword-only)."""
    own = inspect.signature(cls.__init__)
    params = list(own.parameters.values())[1:]    # without self
    if not any(p.kind is p.VAR_KEYWORD for p in params):
        return own.replace(parameters=params)
    names = {p.name for p in params}
    base = next(b for b in cls.__mro__[1:] if '__init__' in vars(b))
    inherited = [p.replace(kind=p.KEYWORD_ONLY)
                 for p in inspect.signature(base).parameters.values()
                 if p.name not in names and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    return own.replace(parameters=[p for p in params if p.kind is not p.VAR_KEYWORD]
                       + inherited)


class ConversationBackbone(BaseModule):
    """Base class of the conversation backbones (see the module docstring).

    Args:
        input_dims: feature dimension per modality, e.g. ``dict(text=384)``; its keys
            name the modalities (a non-empty subset of ``text``, ``audio``, ``visual``,
            kept in that canonical order).
        hidden_dim: H, the width of every output.
        num_speakers: speaker indices are in ``[0, num_speakers)``; ``num_speakers`` is
            the padding index (2).
        max_len: the longest dialogue the backbone can read (None: no limit).
        causal: True when an utterance's outputs depend only on itself and earlier
            utterances (then the live mode's answers equal the offline ones); refused by
            a backbone whose :attr:`non_causal_reason` says why it cannot be.
        init_cfg: initialisation config.

    Attributes:
        modalities (tuple[str]), input_dims (dict[str, int]), hidden_dim, num_speakers,
        max_len, causal: as given, validated.
    """

    #: Why this backbone cannot be causal (what reads later utterances), or None when
    #: ``causal=True`` is allowed.
    non_causal_reason: Optional[str] = None

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        if '__signature__' not in vars(cls):
            cls.__signature__ = _merged_signature(cls)

    def __init__(self,
                 input_dims: Mapping[str, int],
                 hidden_dim: int,
                 num_speakers: int = 2,
                 max_len: Optional[int] = None,
                 causal: bool = False,
                 init_cfg: Optional[dict] = None) -> None:
        who = type(self).__name__
        if causal and self.non_causal_reason:
            raise ValueError(f'{who} cannot be causal ({self.non_causal_reason}); use '
                             'causal=False, or a causal backbone (e.g. FusedSDTBackbone '
                             'with causal=True)')
        super().__init__(init_cfg=init_cfg)
        if not isinstance(input_dims, Mapping) or not input_dims or \
                set(input_dims) - set(MODALITIES):
            raise ValueError(f'{who}.input_dims must map modalities among {MODALITIES} to '
                             f'feature dimensions, got {input_dims!r}')
        self.modalities: Tuple[str, ...] = tuple(m for m in MODALITIES if m in input_dims)
        self.input_dims: Dict[str, int] = {
            m: _positive_int(who, f'input_dims[{m!r}]', input_dims[m])
            for m in self.modalities}
        self.hidden_dim = _positive_int(who, 'hidden_dim', hidden_dim)
        self.num_speakers = _positive_int(who, 'num_speakers', num_speakers)
        self.max_len = _positive_int(who, 'max_len', max_len, allow_none=True)
        if not isinstance(causal, bool):
            raise ValueError(f'{who}.causal must be True or False, got {causal!r}')
        self.causal = causal

    def check_inputs(self, feats: Mapping[str, torch.Tensor], mask: torch.Tensor,
                     speakers: torch.Tensor) -> None:
        """Check a batch against the declared modalities, dimensions and length.

        Raises:
            KeyError: a configured modality is missing from ``feats``.
            ValueError: a feature dimension differs from ``input_dims``, shapes disagree,
                a speaker index lies outside ``[0, num_speakers)``, or a dialogue is
                longer than ``max_len``.
        """
        who = type(self).__name__
        missing = [m for m in self.modalities if m not in feats]
        if missing:
            raise KeyError(f'{who} was configured with modalities {self.modalities} but '
                           f'the batch has no {missing} (it has {sorted(feats)})')
        for m in self.modalities:
            x = feats[m]
            if x.shape[-1] != self.input_dims[m]:
                raise ValueError(f'{who}: {m} features have dimension {x.shape[-1]} but '
                                 f'the config says input_dims[{m!r}]={self.input_dims[m]}')
            if x.dim() != 3 or tuple(x.shape[:2]) != tuple(mask.shape):
                raise ValueError(f'{who}: {m} features have shape {tuple(x.shape)}, '
                                 f'expected [B, L, D] with [B, L] = {tuple(mask.shape)} '
                                 'of the mask')
        if tuple(speakers.shape) != tuple(mask.shape):
            raise ValueError(f'{who}: speakers have shape {tuple(speakers.shape)}, the mask '
                             f'{tuple(mask.shape)}')
        real = speakers[mask.bool()]
        if real.numel() and (int(real.min()) < 0 or int(real.max()) >= self.num_speakers):
            raise ValueError(f'{who}: speaker indices {int(real.min())}..{int(real.max())} '
                             f'outside [0, num_speakers={self.num_speakers}): the data has '
                             'more speakers than model.backbone.num_speakers says')
        if self.max_len is not None and mask.shape[1] > self.max_len:
            raise ValueError(f'{who}: a dialogue of {mask.shape[1]} utterances exceeds '
                             f'max_len={self.max_len}; raise model.backbone.max_len '
                             f'(e.g. --cfg-options model.backbone.max_len={mask.shape[1]})')

    def forward(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
                speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        """Checked batch -> ``{modality: [N, H], 'fused': [N, H]}`` (see the module
        docstring)."""
        self.check_inputs(feats, mask, speakers)
        mask = mask.bool()
        return self.encode({m: feats[m] for m in self.modalities}, mask,
                           speakers.masked_fill(~mask, self.num_speakers))

    def encode(self, feats: Dict[str, torch.Tensor], mask: torch.Tensor,
               speakers: torch.Tensor) -> Dict[str, torch.Tensor]:
        """The backbone's computation on a checked batch (``mask`` is bool, ``feats``
        holds the configured modalities, padded speakers are ``num_speakers``)."""
        raise NotImplementedError

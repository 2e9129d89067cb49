"""The bank of visual emotion anchors used by :class:`~vega_mm.models.heads.VEGAHead`."""
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Dict, Iterator, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.anchors.io import exemplar_means, read_anchors
from vega_mm.registry import MODELS


# (classes, dim, exemplars) of the banks of the checkpoint being loaded, or 'random'
_SHAPES: ContextVar = ContextVar('vega_mm_anchor_bank_shapes', default=None)


@contextmanager
def anchor_banks_from(state_dict: Optional[Mapping[str, torch.Tensor]] = None,
                      random: bool = False) -> Iterator[None]:
    """Build models whose anchor banks read no anchor file.

    Within the context every :class:`AnchorBank` built

    - with ``state_dict`` (a checkpoint's): is an empty bank of the checkpoint's shapes
      (classes, dimension, exemplars), to be filled by loading that checkpoint; so a
      trained model never needs its anchor file, whichever way its config names it
      (``anchor_bank.anchor_file`` or a head's ``anchors=`` shorthand);
    - with ``random=True``: has seeded random anchors of its configured dimension (512
      when the config leaves it to the file), for tools that only count or time.

    Raises (when a bank is built):
        KeyError: the checkpoint has no anchor bank of the bank's class count.
        ValueError: it has several of different dimensions and the config names none.
    """
    if (state_dict is None) == (not random):
        raise ValueError('anchor_banks_from: give a state_dict or random=True')
    shapes = 'random' if random else sorted({
        (int(v.shape[0]), int(v.shape[-1]), int(state_dict[k[:-len('centers')] +
                                                           'exemplars'].shape[1]))
        for k, v in state_dict.items()
        if k.endswith('anchor_bank.centers') and
        k[:-len('centers')] + 'exemplars' in state_dict})
    token = _SHAPES.set(shapes)
    try:
        yield
    finally:
        _SHAPES.reset(token)


def _checkpoint_shape(shapes, num_classes: int, dim: Optional[int]) -> Tuple[int, int]:
    found = [(d, k) for c, d, k in shapes if c == num_classes]
    if dim is not None:
        found = [(d, k) for d, k in found if d == dim] or found
    if not found:
        raise KeyError(f'AnchorBank: the checkpoint being loaded has no anchor bank of '
                       f'{num_classes} classes (it has {[s[:2] for s in shapes]} as '
                       '(classes, dim)): it was not trained with this config\'s VEGA head')
    if len({d for d, _ in found}) > 1:
        raise ValueError(f'AnchorBank: the checkpoint has anchor banks of dimensions '
                         f'{sorted({d for d, _ in found})}; set the bank\'s dim')
    return found[0]


@MODELS.register_module()
class AnchorBank(nn.Module):
    """Per-class centres and exemplar banks in a CLIP image space.

    In training, with probability ``sample_prob`` per forward pass, the anchors are one
    randomly drawn exemplar per class (a single draw for the whole batch); otherwise,
    and always in evaluation, the class centres.  Anchors are L2-normalised.

    The centres and exemplars are buffers, so checkpoints keep them: a model restored
    from a checkpoint uses the anchors it was trained with.  A bank is filled in one of
    three ways:

    - ``anchor_file``: read once by :func:`~vega_mm.anchors.read_anchors` (format,
      dimension, class resolution by name and alias); the centres are the file's
      ``anchor_center`` (as in the published model; a warning says when they are not
      the mean of the exemplars), or the exemplars' mean when the file has none;
    - ``random_anchors=True``: seeded random anchors, for tests and the synthetic demo
      (they carry no visual meaning);
    - neither: an empty bank of the given shape (``dim``, ``num_exemplars``), to be
      filled from a checkpoint (its shapes are adopted on loading).  Using it before
      that is an error.

    Args:
        num_classes: C.
        dim: anchor dimension D (512 for CLIP ViT-B/32).  With ``anchor_file`` it is
            checked against the file, and None takes the file's.
        anchor_file: an anchor file (published ``*_anchor.pt`` format or one written by
            ``tools/build_anchors.py``).
        class_names: the dataset's class order; anchors are reordered to it by name
            (case-insensitive, with aliases).  Required with ``anchor_file`` unless the
            file has exactly ``num_classes`` classes already in dataset order.
        class_mapping: classes without anchors of their own mapped to another class,
            e.g. ``{'excited': 'happy', 'frustration': 'angry'}``.
        sample_prob: p, the probability of sampling exemplars in a training step.
        random_anchors: build seeded random anchors instead of reading a file.
        num_exemplars: exemplars per class of random or empty banks (8 random, 1 empty
            by default).
        random_seed: seed of the random anchors.
    """

    def __init__(self,
                 num_classes: int,
                 dim: Optional[int] = None,
                 anchor_file: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None,
                 class_mapping: Optional[Mapping[str, str]] = None,
                 sample_prob: float = 0.4,
                 random_anchors: bool = False,
                 num_exemplars: Optional[int] = None,
                 random_seed: int = 0) -> None:
        super().__init__()
        if not 0.0 <= sample_prob <= 1.0:
            raise ValueError(f'AnchorBank.sample_prob must be in [0, 1], got {sample_prob}')
        if anchor_file is not None and random_anchors:
            raise ValueError('AnchorBank: give either anchor_file or random_anchors=True, '
                             'not both')
        if anchor_file is None and dim is None and _SHAPES.get() is None:
            raise ValueError('AnchorBank needs dim (the anchor dimension) unless it reads '
                             'an anchor_file')
        self.num_classes = num_classes
        self.dim = dim
        self.sample_prob = sample_prob
        self.anchor_file = anchor_file
        self.class_names = list(class_names) if class_names is not None else None
        shapes = _SHAPES.get()
        if shapes == 'random':
            self.dim = dim or 512
            self._set_exemplars(self._random(num_exemplars or 8, random_seed))
        elif shapes is not None:  # filled by the checkpoint being loaded
            self.dim, kmax = _checkpoint_shape(shapes, num_classes, dim)
            self._set_empty(kmax)
        elif anchor_file is not None:
            self.class_names, exemplars, _, centers = read_anchors(
                anchor_file, class_names, num_classes, dim, class_mapping)
            self.dim = int(exemplars[0].shape[1])
            self._set_exemplars(exemplars, centers)
        elif random_anchors:
            self._set_exemplars(self._random(num_exemplars or 8, random_seed))
        else:
            self._set_empty(num_exemplars or 1)

    # ----------------------------------------------------------------- building
    def _random(self, num_exemplars: int, seed: int) -> Sequence[torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        centres = F.normalize(torch.randn(self.num_classes, self.dim, generator=gen), dim=-1)
        noise = torch.randn(self.num_classes, num_exemplars, self.dim, generator=gen)
        return [F.normalize(c + 0.3 * n / self.dim**0.5, dim=-1)
                for c, n in zip(centres, noise)]

    def _set_empty(self, num_exemplars: int) -> None:
        self.register_buffer('centers', torch.zeros(self.num_classes, self.dim))
        self.register_buffer('exemplars',
                             torch.zeros(self.num_classes, num_exemplars, self.dim))
        self.register_buffer('num_exemplars', torch.zeros(self.num_classes,
                                                          dtype=torch.long))
        self.filled = False

    def _set_exemplars(self, exemplars: Sequence[torch.Tensor],
                       centers: Optional[torch.Tensor] = None) -> None:
        kmax = max(int(e.shape[0]) for e in exemplars)
        bank = torch.zeros(len(exemplars), kmax, self.dim)
        counts = torch.zeros(len(exemplars), dtype=torch.long)
        for i, e in enumerate(exemplars):
            e = F.normalize(e.float(), dim=-1)
            bank[i, :e.shape[0]] = e
            counts[i] = e.shape[0]
        if centers is None:  # no centres given: the mean of the (normalised) exemplars
            centers = exemplar_means(exemplars)
        self.register_buffer('centers', centers.float().clone())
        self.register_buffer('exemplars', bank)
        self.register_buffer('num_exemplars', counts)
        self.filled = True

    def _load_from_state_dict(self, state_dict: Dict, prefix: str, *args, **kwargs) -> None:
        # A checkpoint's bank may hold a different number of exemplars than the bank
        # this model was built with: take the checkpoint's shapes.
        for name in ('exemplars', 'centers', 'num_exemplars'):
            key = prefix + name
            if key in state_dict and state_dict[key].shape != getattr(self, name).shape:
                setattr(self, name, torch.empty_like(state_dict[key], device=self.centers.device))
        for name in ('exemplars', 'centers'):
            # the third way anchors enter (after files and random ones): a checkpoint
            value = state_dict.get(prefix + name)
            if value is not None and not bool(torch.isfinite(value).all()):
                raise ValueError(f'{prefix}{name}: the anchors being loaded hold NaN or Inf '
                                 '(a checkpoint of a diverged run?); refusing them')
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
        if prefix + 'num_exemplars' in state_dict:
            self.filled = bool((state_dict[prefix + 'num_exemplars'] > 0).all())

    # ------------------------------------------------------------------ forward
    def forward(self) -> torch.Tensor:
        """The anchors of this forward pass, [C, D], L2-normalised."""
        if not self.filled:
            raise RuntimeError('AnchorBank is empty: it was built from shapes only; load a '
                               'checkpoint into the model or give anchor_file')
        if self.training and self.sample_prob > 0 and \
                float(torch.rand(())) < self.sample_prob:
            draw = (torch.rand(self.num_classes, device=self.centers.device) *
                    self.num_exemplars.to(self.centers.device)).long()
            anchors = self.exemplars[torch.arange(self.num_classes,
                                                  device=self.centers.device), draw]
        else:
            anchors = self.centers
        return F.normalize(anchors, dim=-1)

    def extra_repr(self) -> str:
        return (f'num_classes={self.num_classes}, dim={self.dim}, '
                f'sample_prob={self.sample_prob}, anchor_file={self.anchor_file!r}')

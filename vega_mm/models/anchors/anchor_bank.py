"""The bank of visual emotion anchors used by :class:`VEGAHead`."""
import warnings
from typing import Dict, Mapping, Optional, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from vega_mm.anchors.classes import resolve_class_order
from vega_mm.anchors.io import load_anchor_file
from vega_mm.registry import MODELS


@MODELS.register_module()
class AnchorBank(nn.Module):
    """Per-class centres and exemplar banks in a CLIP image space.

    In training, with probability ``sample_prob`` per forward pass, the anchors are one
    randomly drawn exemplar per class (a single draw for the whole batch); otherwise,
    and always in evaluation, the class centres.  Anchors are L2-normalised.

    The centres and exemplars are buffers, so checkpoints keep them: a model restored
    from a checkpoint uses the anchors it was trained with.

    Args:
        num_classes: C.
        dim: anchor dimension D (512 for CLIP ViT-B/32); checked against the file.
        anchor_file: an anchor file (published ``*_anchor.pt`` format or one written by
            ``tools/build_anchors.py``).
        class_names: the dataset's class order.  Anchors are reordered to it by name
            (case-insensitive, with aliases); required with ``anchor_file`` unless the
            file has exactly ``num_classes`` classes already in dataset order.
        class_mapping: classes without anchors of their own mapped to another class,
            e.g. ``{'excited': 'happy', 'frustration': 'angry'}``.
        sample_prob: p, the probability of sampling exemplars in a training step.
        random_anchors: build random (seeded) anchors instead of reading a file.  For
            tests and the synthetic demo only: random anchors carry no visual meaning.
        random_num_exemplars: exemplars per class with ``random_anchors``.
        random_seed: seed of the random anchors.
    """

    def __init__(self,
                 num_classes: int,
                 dim: int = 512,
                 anchor_file: Optional[str] = None,
                 class_names: Optional[Sequence[str]] = None,
                 class_mapping: Optional[Mapping[str, str]] = None,
                 sample_prob: float = 0.4,
                 random_anchors: bool = False,
                 random_num_exemplars: int = 8,
                 random_seed: int = 0) -> None:
        super().__init__()
        if not 0.0 <= sample_prob <= 1.0:
            raise ValueError(f'AnchorBank.sample_prob must be in [0, 1], got {sample_prob}')
        self.num_classes = num_classes
        self.dim = dim
        self.sample_prob = sample_prob
        self.anchor_file = anchor_file
        if anchor_file is not None and random_anchors:
            raise ValueError('AnchorBank: give either anchor_file or random_anchors=True, '
                             'not both')
        if anchor_file is not None:
            exemplars = self._read_file(anchor_file, class_names, class_mapping)
        elif random_anchors:
            exemplars = self._random(random_num_exemplars, random_seed)
        else:
            raise ValueError(
                'AnchorBank needs anchors: set anchor_file to an anchor file (see '
                'tools/build_anchors.py), or random_anchors=True for tests and demos')
        self._set_exemplars(exemplars)

    # ----------------------------------------------------------------- building
    def _read_file(self, path: str, class_names: Optional[Sequence[str]],
                   class_mapping: Optional[Mapping[str, str]]) -> Sequence[torch.Tensor]:
        data = load_anchor_file(path)
        file_dim = data['centers'].shape[1]
        if file_dim != self.dim:
            raise ValueError(f'anchor file {path!r} holds {file_dim}-d anchors but the model '
                             f'expects dim={self.dim} (set vega_head.anchor_bank.dim or use '
                             'anchors from the matching image encoder)')
        names = data['class_names']
        if class_names is None:
            if len(names) != self.num_classes:
                raise ValueError(
                    f'anchor file {path!r} has {len(names)} classes {names} but the model '
                    f'has {self.num_classes}; give class_names (and class_mapping) so '
                    'anchors can be matched to the dataset classes')
            warnings.warn(f'AnchorBank: no class_names given; using the order of {path!r} '
                          f'({names}) as the dataset class order')
            order = list(range(len(names)))
        else:
            if len(class_names) != self.num_classes:
                raise ValueError(f'AnchorBank: class_names has {len(class_names)} entries '
                                 f'but num_classes={self.num_classes}')
            order = resolve_class_order(names, class_names, class_mapping,
                                        source=f'anchor file {path!r}')
        self.class_names = list(class_names) if class_names is not None else names
        return [data['exemplars'][i] for i in order]

    def _random(self, num_exemplars: int, seed: int) -> Sequence[torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        centres = F.normalize(torch.randn(self.num_classes, self.dim, generator=gen), dim=-1)
        noise = torch.randn(self.num_classes, num_exemplars, self.dim, generator=gen)
        self.class_names = None
        return [F.normalize(c + 0.3 * n / self.dim**0.5, dim=-1)
                for c, n in zip(centres, noise)]

    def _set_exemplars(self, exemplars: Sequence[torch.Tensor]) -> None:
        kmax = max(int(e.shape[0]) for e in exemplars)
        bank = torch.zeros(len(exemplars), kmax, self.dim)
        counts = torch.zeros(len(exemplars), dtype=torch.long)
        for i, e in enumerate(exemplars):
            e = F.normalize(e.float(), dim=-1)
            bank[i, :e.shape[0]] = e
            counts[i] = e.shape[0]
        # Centres are the mean of the (normalised) exemplars.
        centers = torch.stack([bank[i, :counts[i]].mean(0) for i in range(len(exemplars))])
        self.register_buffer('centers', centers)
        self.register_buffer('exemplars', bank)
        self.register_buffer('num_exemplars', counts)

    def _load_from_state_dict(self, state_dict: Dict, prefix: str, *args, **kwargs) -> None:
        # A checkpoint's bank may hold a different number of exemplars than the file
        # this model was built from: take the checkpoint's shapes.
        for name in ('exemplars', 'centers', 'num_exemplars'):
            key = prefix + name
            if key in state_dict and state_dict[key].shape != getattr(self, name).shape:
                setattr(self, name, torch.empty_like(state_dict[key], device=self.centers.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # ------------------------------------------------------------------ forward
    def forward(self) -> torch.Tensor:
        """The anchors of this forward pass, [C, D], L2-normalised."""
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

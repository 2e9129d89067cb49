"""CLIP image encoder built from mmpretrain modules (image tower only)."""
import os
from typing import Dict, Optional, Union

import torch

from vega_mm.registry import ANCHOR_ENCODERS
from vega_mm.utils.mmcv_lite import quiet_mmcv_lite
from .base import (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ImageEncoder, _default_device,
                   _describe_mismatch, _read_state_dict, _warn_random_init, file_sha256)

__all__ = ['MMPretrainCLIPImageEncoder']


# mmpretrain's CLIP vision settings: arch name -> (ViT arch, patch size, projection dim).
_MMPRETRAIN_CLIP_ARCHS: Dict[str, tuple] = {
    'ViT-B-32': ('base', 32, 512),
    'ViT-B-16': ('base', 16, 512),
    'ViT-L-14': ('large', 14, 768),
}


@ANCHOR_ENCODERS.register_module(name=['MMPretrainCLIPImageEncoder', 'mmpretrain_clip'])
class MMPretrainCLIPImageEncoder(ImageEncoder):
    """CLIP image tower built from mmpretrain modules.

    The image side of mmpretrain's ``CLIP``: a pre-norm ``VisionTransformer`` with
    QuickGELU and a linear projection.  mmpretrain's own ``CLIP`` class is not used: it
    always builds the text tower and a hub tokenizer (network) and is only importable
    with mmpretrain's multimodal extras, which fail against transformers 5.

    Args:
        arch: ``'ViT-B-32'`` (paper), ``'ViT-B-16'`` or ``'ViT-L-14'``.
        checkpoint: ``None`` = random init (tests only; warns), or a local mmpretrain CLIP
            checkpoint (keys ``visual.*`` and ``visual_proj.proj``; e.g. mmpretrain's
            ``clip-vit-base-p16_openai`` zero-shot weights, or OpenAI weights converted
            with mmpretrain's ``tools/model_converters/openai-clip_to_mmpretrain-clip.py``).
            Text-tower keys are ignored.
        device: ``'cuda'`` if available else ``'cpu'`` when ``None``.
        image_size: input resolution; images are resized to a square of this size
            (bicubic), as in mmpretrain's CLIP test pipeline.
    """

    MODEL_ARG = 'arch'
    WEIGHTS_ARG = 'checkpoint'

    def __init__(self,
                 arch: str = 'ViT-B-32',
                 checkpoint: Optional[str] = None,
                 device: Optional[Union[str, torch.device]] = None,
                 image_size: int = 224) -> None:
        if arch not in _MMPRETRAIN_CLIP_ARCHS:
            raise ValueError(f'MMPretrainCLIPImageEncoder: unknown arch {arch!r}; '
                             f'choose from {sorted(_MMPRETRAIN_CLIP_ARCHS)}')
        with quiet_mmcv_lite():
            from mmpretrain.models.backbones import VisionTransformer
            import mmpretrain
        from torchvision import transforms as T
        vit_arch, patch, proj_dim = _MMPRETRAIN_CLIP_ARCHS[arch]
        self.device = _default_device(device)
        visual = VisionTransformer(
            arch=vit_arch, img_size=image_size, patch_size=patch, drop_rate=0.,
            layer_cfgs=dict(act_cfg=dict(type='mmpretrain.QuickGELU')), pre_norm=True,
            # OpenAI CLIP's LayerNorm eps (mmpretrain's ViT default is 1e-6).
            norm_cfg=dict(type='LN', eps=1e-5))
        width = visual.embed_dims
        model = torch.nn.Module()
        model.visual = visual
        model.visual_proj = torch.nn.Module()
        model.visual_proj.proj = torch.nn.Parameter(width**-0.5 * torch.randn(width, proj_dim))
        if checkpoint is None:
            _warn_random_init(f'MMPretrainCLIPImageEncoder({arch!r})')
        else:
            checkpoint = os.path.abspath(os.fspath(checkpoint))
            if not os.path.isfile(checkpoint):
                raise FileNotFoundError(
                    f'MMPretrainCLIPImageEncoder: checkpoint {checkpoint!r} does not exist')
            self._load_weights(model, checkpoint, arch)
        self.model = model.to(self.device).eval()
        self.transform = T.Compose([
            T.Resize((image_size, image_size), interpolation=T.InterpolationMode.BICUBIC),
            T.ToTensor(),
            T.Normalize(OPENAI_CLIP_MEAN, OPENAI_CLIP_STD),
        ])
        self.dim = proj_dim
        self.identity = dict(
            type='MMPretrainCLIPImageEncoder',
            library=f'mmpretrain {mmpretrain.__version__}',
            model=arch,
            weights=checkpoint,
            weights_sha256=file_sha256(checkpoint) if checkpoint else None,
            random_init=checkpoint is None,
            dim=self.dim,
        )

    @staticmethod
    def _load_weights(model: torch.nn.Module, path: str, arch: str) -> None:
        try:
            sd = _read_state_dict(path)
        except Exception as exc:  # noqa: BLE001
            raise ValueError(f'checkpoint {path!r} cannot be read as a tensor-only state '
                             f'dict ({type(exc).__name__}: {exc})') from exc
        sd = {k: v for k, v in sd.items() if k.startswith(('visual.', 'visual_proj.'))}
        model_sd = model.state_dict()
        try:
            model.load_state_dict(sd, strict=True)
        except Exception as exc:  # noqa: BLE001 - re-raised with file and model named
            raise ValueError(
                f'checkpoint {path!r} does not match mmpretrain CLIP {arch!r} image tower: '
                f'{_describe_mismatch(model_sd, sd)}. Expected an mmpretrain CLIP checkpoint '
                "(keys 'visual.*', 'visual_proj.proj') of the same arch.") from exc

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor:
        cls_token = self.model.visual(pixels)[-1]
        return cls_token @ self.model.visual_proj.proj

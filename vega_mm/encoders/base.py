"""The image-encoder contract, helpers shared by the backends, and the builder.

Every encoder takes PIL images, applies *its own* preprocessing (the one its weights were
trained with), runs the image tower in eval mode without gradients, and returns
L2-normalised float32 features on the CPU.  Encoders are registered in
:data:`vega_mm.registry.ANCHOR_ENCODERS` and built with :func:`build_image_encoder`.
"""
import warnings
import zipfile
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vega_mm.registry import ANCHOR_ENCODERS
from vega_mm.utils.io import file_digest

__all__ = [
    'ImageEncoder', 'build_image_encoder', 'file_sha256', 'ENCODER_ALIASES',
    'OPENAI_CLIP_MEAN', 'OPENAI_CLIP_STD'
]

#: Short names accepted by :func:`build_image_encoder` and ``tools/build_anchors.py``.
ENCODER_ALIASES: Dict[str, str] = {
    'open_clip': 'OpenCLIPImageEncoder',
    'hf_clip': 'HFCLIPImageEncoder',
    'mmpretrain_clip': 'MMPretrainCLIPImageEncoder',
    'fer_cnn': 'FERCNNImageEncoder',
}

# OpenAI CLIP's normalisation (also open_clip's and transformers' default for CLIP).
OPENAI_CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


def file_sha256(path: str, chunk_size: int = 1 << 20) -> str:
    """Hex SHA-256 of a file (identifies the weights an anchor file was built with)."""
    return file_digest(path, 'sha256', chunk_size)


def _default_device(device: Optional[Union[str, torch.device]]) -> torch.device:
    if device is None:
        device = 'cuda' if torch.cuda.is_available() else 'cpu'
    return torch.device(device)


def _as_pil(image: Any) -> Image.Image:
    """An RGB PIL image from a PIL image or an RGB uint8 array [H, W, 3] / [H, W]."""
    if isinstance(image, Image.Image):
        return image if image.mode == 'RGB' else image.convert('RGB')
    if isinstance(image, np.ndarray):
        if image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise TypeError(f'image arrays must be uint8 [H, W] or [H, W, 3] (RGB), got '
                            f'{image.dtype} {image.shape}')
        return Image.fromarray(image).convert('RGB')
    raise TypeError(f'expected a PIL image or a uint8 numpy array, got {type(image).__name__}')


def _warn_random_init(what: str) -> None:
    msg = (f'{what}: NO PRETRAINED WEIGHTS, the image encoder is randomly initialised. '
           'Its features carry no emotion information; use this only for tests. Pass '
           'real CLIP weights (a tag or a local file) to build useful anchors.')
    warnings.warn(msg, UserWarning, stacklevel=3)


def _describe_mismatch(model_sd: Mapping[str, torch.Tensor],
                       file_sd: Mapping[str, Any], limit: int = 5) -> str:
    """Short summary of how a state dict differs from a model's (for error messages)."""
    missing = [k for k in model_sd if k not in file_sd]
    unexpected = [k for k in file_sd if k not in model_sd]
    shapes = [
        f'{k}: file {tuple(file_sd[k].shape)} vs model {tuple(model_sd[k].shape)}'
        for k in model_sd if k in file_sd and hasattr(file_sd[k], 'shape')
        and tuple(file_sd[k].shape) != tuple(model_sd[k].shape)
    ]
    parts = []
    if shapes:
        parts.append(f'{len(shapes)} shape mismatches (e.g. {"; ".join(shapes[:limit])})')
    if missing:
        parts.append(f'{len(missing)} missing keys (e.g. {missing[:limit]})')
    if unexpected:
        parts.append(f'{len(unexpected)} unexpected keys (e.g. {unexpected[:limit]})')
    return ', '.join(parts) or 'no key or shape difference found'


def _is_torchscript_archive(path: str) -> bool:
    """True for TorchScript files (such as OpenAI's original ``ViT-B-32.pt``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        return any(n.endswith('constants.pkl') or '/code/' in n for n in zf.namelist())


def _read_state_dict(path: str) -> Dict[str, torch.Tensor]:
    """A state dict from a .safetensors, torch (``weights_only``) or TorchScript file.

    A ``'state_dict'`` (or ``'model'``) entry is unwrapped and a DDP ``module.`` prefix
    removed.
    """
    if path.endswith('.safetensors'):
        from safetensors.torch import load_file
        return load_file(path, device='cpu')
    if _is_torchscript_archive(path):
        # OpenAI's published CLIP files are TorchScript; loading them reads weights and
        # TorchScript code, never arbitrary pickled Python objects.
        sd = torch.jit.load(path, map_location='cpu').state_dict()
        return {k: v for k, v in sd.items()
                if k not in ('input_resolution', 'context_length', 'vocab_size')}
    obj = torch.load(path, map_location='cpu', weights_only=True)
    for key in ('state_dict', 'model'):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise ValueError(f'weights file {path!r} holds a {type(obj).__name__}, '
                         'not a state dict')
    if obj and all(str(k).startswith('module.') for k in obj):
        obj = {k[len('module.'):]: v for k, v in obj.items()}
    return obj


class ImageEncoder:
    """Base class: batched, deterministic image -> L2-normalised feature.

    Subclasses set ``model``, ``device``, ``dim`` and ``identity``, implement
    :meth:`forward_features` (Tensor on ``device`` -> Tensor[B, D]) and either set
    ``transform`` (RGB PIL image -> Tensor[3, H, W]) or override :meth:`preprocess`
    (list of RGB PIL images -> Tensor[B, 3, H, W]).

    Attributes:
        dim (int): feature dimension D.
        identity (dict): plain-Python description of the encoder and its weights
            (``type``, ``model``, ``weights``, ``weights_sha256``, ...), stored in anchor files.
        device (torch.device): where the model runs.
    """

    dim: int
    identity: Dict[str, Any]
    device: torch.device
    model: torch.nn.Module
    transform: Callable[[Image.Image], torch.Tensor]
    #: The constructor arguments that take a build's generic ``model`` (name or
    #: architecture) and ``weights`` options (see :func:`image_encoder_config`).
    MODEL_ARG: str = ''
    WEIGHTS_ARG: str = ''

    def preprocess(self, images: List[Image.Image]) -> torch.Tensor:
        """Images -> pixel tensor [B, 3, H, W] (the weights' own preprocessing)."""
        return torch.stack([self.transform(im) for im in images])

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor:
        """Pixel tensor on ``device`` -> unnormalised image embeddings [B, D]."""
        raise NotImplementedError

    @torch.no_grad()
    def encode(self,
               images: Sequence[Union[Image.Image, np.ndarray]],
               batch_size: int = 32,
               progress: bool = False) -> torch.Tensor:
        """Encode images into L2-normalised features.

        Args:
            images: PIL images (any mode, converted to RGB) or uint8 RGB arrays.
            batch_size: images per forward pass; does not change the result beyond
                floating-point noise.
            progress: show a tqdm progress bar.

        Returns:
            Tensor[N, D], float32, on the CPU, every row of unit norm.
        """
        if batch_size < 1:
            raise ValueError(f'batch_size must be >= 1, got {batch_size}')
        self.model.eval()
        n = len(images)
        out = torch.empty(n, self.dim, dtype=torch.float32)
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=n, desc=f'encoding ({self.identity.get("model")})', unit='img')
        for start in range(0, n, batch_size):
            chunk = [_as_pil(im) for im in images[start:start + batch_size]]
            pixels = self.preprocess(chunk).to(self.device, dtype=torch.float32)
            feats = self.forward_features(pixels).float()
            if feats.ndim != 2 or feats.shape[1] != self.dim:
                raise RuntimeError(f'{type(self).__name__}: expected features [B, {self.dim}]'
                                   f', got {tuple(feats.shape)}')
            out[start:start + len(chunk)] = F.normalize(feats, dim=-1).cpu()
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        return out

    def __repr__(self) -> str:
        return f'{type(self).__name__}(dim={self.dim}, identity={self.identity})'


def build_image_encoder(cfg: Union[Mapping[str, Any], ImageEncoder]) -> ImageEncoder:
    """Build an image encoder from a config dict (``type`` = registered name or alias).

    Examples:
        ``dict(type='OpenCLIPImageEncoder', model_name='ViT-B-32', pretrained='w.safetensors')``
        ``dict(type='hf_clip', name_or_path='openai/clip-vit-base-patch32')``
    """
    if isinstance(cfg, ImageEncoder):
        return cfg
    if not isinstance(cfg, Mapping) or 'type' not in cfg:
        raise TypeError(f"image encoder config must be a dict with a 'type' key, got {cfg!r}")
    cfg = dict(cfg)
    cfg['type'] = ENCODER_ALIASES.get(cfg['type'], cfg['type'])
    if ANCHOR_ENCODERS.get(cfg['type']) is None:
        raise KeyError(f"unknown image encoder type {cfg['type']!r}; registered: "
                       f'{sorted(ANCHOR_ENCODERS.module_dict)}')
    return ANCHOR_ENCODERS.build(cfg)

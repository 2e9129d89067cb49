"""CLIP image encoders that turn face images into anchor features.

Every encoder takes PIL images, applies *its own* preprocessing (the one its weights were
trained with), runs the image tower in eval mode without gradients, and returns
L2-normalised float32 features on the CPU.  Encoders are registered in
:data:`vega_mm.registry.ANCHOR_ENCODERS` and built with :func:`build_image_encoder`::

    encoder = build_image_encoder(dict(type='OpenCLIPImageEncoder', model_name='ViT-B-32',
                                       pretrained='weights/vit_b32_openai.safetensors'))
    feats = encoder.encode(images, batch_size=32)        # Tensor[N, 512], unit rows

Weights come from a tag (downloaded, needs the network) or a local file/directory.
``identity`` records what was used (library, model, weights tag or path and the file's
SHA-256) so that an anchor file says which encoder made it.

Libraries are imported when an encoder is built, so ``import vega_mm.anchors`` works
without open_clip or transformers installed.
"""
import logging
import os
import warnings
import zipfile
from contextlib import contextmanager
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from vega_mm.registry import ANCHOR_ENCODERS
from vega_mm.utils.io import file_digest

__all__ = [
    'ImageEncoder', 'OpenCLIPImageEncoder', 'HFCLIPImageEncoder', 'MMPretrainCLIPImageEncoder',
    'build_image_encoder', 'file_sha256', 'ENCODER_ALIASES'
]

#: Short names accepted by :func:`build_image_encoder` and ``tools/build_anchors.py``.
ENCODER_ALIASES: Dict[str, str] = {
    'open_clip': 'OpenCLIPImageEncoder',
    'hf_clip': 'HFCLIPImageEncoder',
    'mmpretrain_clip': 'MMPretrainCLIPImageEncoder',
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


@contextmanager
def _quiet_root_logger(level: int = logging.ERROR) -> Iterator[None]:
    """open_clip logs 'initialized randomly' on the root logger before we load weights."""
    logger = logging.getLogger()
    old = logger.level
    logger.setLevel(max(level, old))
    try:
        yield
    finally:
        logger.setLevel(old)


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

    Subclasses set ``model``, ``device``, ``dim`` and ``identity`` and implement
    :meth:`preprocess` (list of RGB PIL images -> Tensor[B, 3, H, W]) and
    :meth:`forward_features` (Tensor on ``device`` -> Tensor[B, D]).

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
    #: The constructor arguments that take a build's generic ``model`` (name or
    #: architecture) and ``weights`` options (see :func:`image_encoder_config`).
    MODEL_ARG: str = ''
    WEIGHTS_ARG: str = ''

    def preprocess(self, images: List[Image.Image]) -> torch.Tensor:
        """Images -> pixel tensor [B, 3, H, W] (the weights' own preprocessing)."""
        raise NotImplementedError

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


def _stack(transform: Callable[[Image.Image], torch.Tensor],
           images: List[Image.Image]) -> torch.Tensor:
    return torch.stack([transform(im) for im in images])


@ANCHOR_ENCODERS.register_module(name=['OpenCLIPImageEncoder', 'open_clip'])
class OpenCLIPImageEncoder(ImageEncoder):
    """CLIP image tower from open_clip.

    Args:
        model_name: an open_clip model name (``open_clip.list_models()``), e.g.
            ``'ViT-B-32'`` (the paper's encoder).
        pretrained: ``None`` = random init (tests only; warns), a tag such as
            ``'openai'`` or ``'laion2b_s34b_b79k'`` (downloaded into the cache; needs the
            network the first time), or a local ``.safetensors`` / ``.bin`` / ``.pt`` /
            ``.pth`` file (open_clip state dict or OpenAI's TorchScript file).
        device: ``'cuda'`` if available else ``'cpu'`` when ``None``.
        quick_gelu: OpenAI's CLIP weights were trained with QuickGELU; a model built with
            plain GELU runs but gives wrong features.  ``None`` decides from the tag
            (``'openai'`` -> True), from an OpenAI TorchScript file (True) or from the
            model name (``'ViT-B-32-quickgelu'``); set it to ``True`` for a state-dict file
            of OpenAI weights loaded under a name without ``-quickgelu``.
        cache_dir: where tagged weights are downloaded.
    """

    MODEL_ARG = 'model_name'
    WEIGHTS_ARG = 'pretrained'

    def __init__(self,
                 model_name: str = 'ViT-B-32',
                 pretrained: Optional[str] = None,
                 device: Optional[Union[str, torch.device]] = None,
                 quick_gelu: Optional[bool] = None,
                 cache_dir: Optional[str] = None) -> None:
        try:
            import open_clip
        except ImportError as exc:
            raise ImportError('OpenCLIPImageEncoder needs open_clip: '
                              'pip install open_clip_torch') from exc
        if ':' in model_name:
            raise ValueError(
                f'OpenCLIPImageEncoder: model names with a schema ({model_name!r}) are not '
                "supported; give the architecture (e.g. 'ViT-B-32') and pretrained=TAG or "
                'a local weights file')
        if model_name not in open_clip.list_models():
            raise ValueError(f'open_clip has no model {model_name!r}; known ViT models: '
                             f'{[m for m in open_clip.list_models() if m.startswith("ViT")]}')
        self.device = _default_device(device)
        tag_cfg: Optional[Dict[str, Any]] = None
        weights_path: Optional[str] = None
        pretrained = os.fspath(pretrained) if pretrained is not None else None
        if pretrained is None:
            _warn_random_init(f'OpenCLIPImageEncoder({model_name!r})')
        elif os.path.isfile(pretrained):
            weights_path = os.path.abspath(pretrained)
        elif open_clip.get_pretrained_cfg(model_name, pretrained):
            tag_cfg = dict(open_clip.get_pretrained_cfg(model_name, pretrained))
            try:
                weights_path = open_clip.download_pretrained(tag_cfg, cache_dir=cache_dir)
            except Exception as exc:  # noqa: BLE001 - offline, hub errors, ...
                raise RuntimeError(
                    f'OpenCLIPImageEncoder: could not download the weights of open_clip '
                    f'{model_name!r} tag {pretrained!r} ({type(exc).__name__}: {exc}). '
                    'Tags need the network (or a filled cache); offline, pass a local '
                    'weights file (pretrained=PATH, --weights PATH).') from exc
            if not weights_path:
                raise RuntimeError(f'OpenCLIPImageEncoder: open_clip returned no file for '
                                   f'{model_name!r} tag {pretrained!r}')
        else:
            if os.sep in pretrained or pretrained.endswith(
                    ('.safetensors', '.bin', '.pt', '.pth', '.npz', '.ckpt')):
                raise FileNotFoundError(
                    f'OpenCLIPImageEncoder: weights file {pretrained!r} does not exist')
            raise ValueError(
                f'OpenCLIPImageEncoder: {pretrained!r} is neither a local file nor an '
                f'open_clip tag of {model_name!r} (tags: '
                f'{open_clip.list_pretrained_tags_by_model(model_name)})')

        torchscript = weights_path is not None and _is_torchscript_archive(weights_path)
        model_cfg = open_clip.get_model_config(model_name) or {}
        if quick_gelu is None:
            quick_gelu = bool(tag_cfg.get('quick_gelu', False)) if tag_cfg else torchscript
        quick_gelu = bool(quick_gelu) or bool(model_cfg.get('quick_gelu', False))
        preprocess_override = {}
        if tag_cfg:
            for key in ('mean', 'std', 'interpolation', 'resize_mode'):
                if tag_cfg.get(key) is not None:
                    preprocess_override[key] = tag_cfg[key]
        with _quiet_root_logger():
            model = open_clip.create_model(
                model_name, pretrained=None, force_quick_gelu=bool(quick_gelu),
                force_preprocess_cfg=preprocess_override or None)
        if weights_path is not None:
            self._load_weights(model, weights_path, model_name, torchscript)
        self.model = model.to(self.device).eval()
        from open_clip.transform import PreprocessCfg, image_transform_v2
        self.transform = image_transform_v2(
            PreprocessCfg(**model.visual.preprocess_cfg), is_train=False)
        self.dim = int(getattr(model.visual, 'output_dim', None) or model_cfg['embed_dim'])
        self.identity = dict(
            type='OpenCLIPImageEncoder',
            library=f'open_clip {open_clip.__version__}',
            model=model_name,
            quick_gelu=bool(quick_gelu),
            weights=(pretrained if tag_cfg else weights_path),
            weights_tag=pretrained if tag_cfg else None,
            weights_sha256=file_sha256(weights_path) if weights_path else None,
            random_init=weights_path is None,
            dim=self.dim,
        )

    @staticmethod
    def _load_weights(model: torch.nn.Module, path: str, model_name: str,
                      torchscript: bool) -> None:
        import open_clip
        try:
            if torchscript:
                sd = _read_state_dict(path)
                model.load_state_dict(sd, strict=True)
            else:
                # open_clip's loader converts third-party layouts and resizes positions.
                open_clip.load_checkpoint(model, path, strict=True)
        except Exception as exc:  # noqa: BLE001 - re-raised with file and model named
            try:
                detail = _describe_mismatch(model.state_dict(), _read_state_dict(path))
            except Exception as read_exc:  # noqa: BLE001
                detail = f'the file cannot be read: {type(read_exc).__name__}: {read_exc}'
            raise ValueError(
                f'weights file {path!r} does not match open_clip model {model_name!r}: '
                f'{detail}. Pick the model the weights were trained as (--model), e.g. '
                "'ViT-B-16' for ViT-B/16 weights.") from exc

    def preprocess(self, images: List[Image.Image]) -> torch.Tensor:
        return _stack(self.transform, images)

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)


def _weight_files(directory: str) -> List[str]:
    names = sorted(f for f in os.listdir(directory)
                   if f.endswith(('.safetensors', '.bin', '.pt', '.pth')))
    return [os.path.join(directory, f) for f in names]


@ANCHOR_ENCODERS.register_module(name=['HFCLIPImageEncoder', 'hf_clip'])
class HFCLIPImageEncoder(ImageEncoder):
    """CLIP image tower from transformers (``CLIPModel.get_image_features``).

    Args:
        name_or_path: a hub name (``'openai/clip-vit-base-patch32'``, the paper's
            ViT-B/32; needs the network or the local hub cache) or a local directory
            written by ``save_pretrained`` (``config.json`` + weights).  Directories of a
            ``CLIPVisionModelWithProjection`` work too.
        device: ``'cuda'`` if available else ``'cpu'`` when ``None``.
        revision: hub revision (branch, tag or commit).

    The image processor comes from the directory (``preprocessor_config.json``); a
    directory without one gets CLIP's standard processing at the model's image size, with
    a warning.
    """

    # one directory holds both the model and its weights
    MODEL_ARG = 'name_or_path'
    WEIGHTS_ARG = 'name_or_path'

    def __init__(self,
                 name_or_path: str = 'openai/clip-vit-base-patch32',
                 device: Optional[Union[str, torch.device]] = None,
                 revision: Optional[str] = None) -> None:
        try:
            import transformers
            from transformers import AutoConfig
        except ImportError as exc:
            raise ImportError('HFCLIPImageEncoder needs transformers: '
                              'pip install transformers') from exc
        name_or_path = os.fspath(name_or_path)
        self.device = _default_device(device)
        local = os.path.isdir(name_or_path)
        if not local and (os.path.exists(name_or_path) or name_or_path.startswith(('.', '/'))):
            raise FileNotFoundError(
                f'HFCLIPImageEncoder: {name_or_path!r} is not a directory; give a directory '
                'written by save_pretrained (config.json + weights) or a hub name')
        kwargs: Dict[str, Any] = {'revision': revision} if revision else {}
        try:
            config = AutoConfig.from_pretrained(name_or_path, **kwargs)
        except Exception as exc:  # noqa: BLE001 - offline, missing config, ...
            raise RuntimeError(
                f'HFCLIPImageEncoder: cannot read the config of {name_or_path!r} '
                f'({type(exc).__name__}: {exc}). Hub names need the network or the hub '
                'cache; offline, give a local save_pretrained directory.') from exc
        model_cls = self._model_class(config)
        try:
            model, info = model_cls.from_pretrained(
                name_or_path, dtype=torch.float32, output_loading_info=True, **kwargs)
        except Exception as exc:  # noqa: BLE001 - size mismatches raise here
            files = _weight_files(name_or_path) if local else []
            raise ValueError(
                f'weights {files or name_or_path!r} do not match transformers '
                f'{model_cls.__name__} described by {name_or_path!r}/config.json '
                f'({type(exc).__name__}: {str(exc)[:500]})') from exc
        # The text tower is unused: only image-side keys must be present.
        missing = [k for k in info.get('missing_keys', ())
                   if not k.startswith(('text_model.', 'text_projection', 'logit_scale'))]
        mismatched = list(info.get('mismatched_keys', ()))
        if missing or mismatched:
            files = _weight_files(name_or_path) if local else name_or_path
            raise ValueError(
                f'weights {files!r} do not match transformers {model_cls.__name__} of '
                f'{name_or_path!r}: {len(missing)} image-tower keys missing (e.g. '
                f'{missing[:5]}), {len(mismatched)} mismatched ({mismatched[:5]})')
        self.model = model.to(self.device).eval()
        self.processor = self._image_processor(name_or_path, config, kwargs)
        self.dim = int(getattr(config, 'projection_dim', None)
                       or getattr(config.vision_config, 'projection_dim'))
        weight_files = _weight_files(name_or_path) if local else []
        self.identity = dict(
            type='HFCLIPImageEncoder',
            library=f'transformers {transformers.__version__}',
            model=name_or_path if not local else os.path.abspath(name_or_path),
            architecture=model_cls.__name__,
            weights=os.path.abspath(name_or_path) if local else name_or_path,
            revision=revision or getattr(config, '_commit_hash', None),
            weights_sha256=({os.path.basename(f): file_sha256(f) for f in weight_files}
                            if weight_files else None),
            random_init=False,
            dim=self.dim,
        )

    @staticmethod
    def _model_class(config: Any) -> Any:
        from transformers import CLIPModel, CLIPVisionModelWithProjection
        if config.model_type == 'clip':
            return CLIPModel
        if config.model_type == 'clip_vision_model':
            return CLIPVisionModelWithProjection
        raise ValueError(f'HFCLIPImageEncoder: expected a CLIP model (model_type "clip" or '
                         f'"clip_vision_model"), got model_type {config.model_type!r}')

    @staticmethod
    def _image_processor(name_or_path: str, config: Any, kwargs: Dict[str, Any]) -> Any:
        from transformers import CLIPImageProcessor
        try:
            return CLIPImageProcessor.from_pretrained(name_or_path, **kwargs)
        except Exception:  # noqa: BLE001 - no preprocessor_config.json
            vision = getattr(config, 'vision_config', config)
            size = int(vision.image_size)
            warnings.warn(
                f'HFCLIPImageEncoder: {name_or_path!r} has no preprocessor_config.json; '
                f'using CLIP\'s standard preprocessing at {size}px (resize shortest edge, '
                'centre crop, OpenAI mean/std)', UserWarning, stacklevel=3)
            return CLIPImageProcessor(
                size={'shortest_edge': size}, crop_size={'height': size, 'width': size},
                image_mean=list(OPENAI_CLIP_MEAN), image_std=list(OPENAI_CLIP_STD))

    def preprocess(self, images: List[Image.Image]) -> torch.Tensor:
        return self.processor(images=images, return_tensors='pt')['pixel_values']

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor:
        if hasattr(self.model, 'get_image_features'):
            out = self.model.get_image_features(pixel_values=pixels)
        else:  # CLIPVisionModelWithProjection
            out = self.model(pixel_values=pixels)
        if torch.is_tensor(out):  # transformers < 5
            return out
        for key in ('image_embeds', 'pooler_output'):  # transformers >= 5: output object
            value = getattr(out, key, None)
            if value is not None:
                return value
        raise RuntimeError(f'HFCLIPImageEncoder: no image features in {type(out).__name__}')


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
        with warnings.catch_warnings():
            warnings.filterwarnings('ignore', message='Fail to import')
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

    def preprocess(self, images: List[Image.Image]) -> torch.Tensor:
        return _stack(self.transform, images)

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor:
        cls_token = self.model.visual(pixels)[-1]
        return cls_token @ self.model.visual_proj.proj


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

"""CLIP image encoder from open_clip (the paper's ViT-B/32 by default)."""
import logging
import os
from contextlib import contextmanager
from typing import Any, Dict, Iterator, Optional, Tuple, Union

import torch

from vega_mm.registry import ANCHOR_ENCODERS
from .base import (ImageEncoder, _default_device, _describe_mismatch, _is_torchscript_archive,
                   _read_state_dict, _warn_random_init, file_sha256)

__all__ = ['OpenCLIPImageEncoder']


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
        pretrained = os.fspath(pretrained) if pretrained is not None else None
        tag_cfg, weights_path = self._resolve_weights(open_clip, model_name, pretrained,
                                                      cache_dir)

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
    def _resolve_weights(open_clip, model_name: str, pretrained: Optional[str],
                         cache_dir: Optional[str]
                         ) -> Tuple[Optional[Dict[str, Any]], Optional[str]]:
        """``(tag config or None, weights file or None)`` of ``pretrained``: None (random
        initialisation, with a warning), a local file, or an open_clip tag (downloaded).
        """
        if pretrained is None:
            _warn_random_init(f'OpenCLIPImageEncoder({model_name!r})')
            return None, None
        if os.path.isfile(pretrained):
            return None, os.path.abspath(pretrained)
        if open_clip.get_pretrained_cfg(model_name, pretrained):
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
            return tag_cfg, weights_path
        if os.sep in pretrained or pretrained.endswith(
                ('.safetensors', '.bin', '.pt', '.pth', '.npz', '.ckpt')):
            raise FileNotFoundError(
                f'OpenCLIPImageEncoder: weights file {pretrained!r} does not exist')
        raise ValueError(
            f'OpenCLIPImageEncoder: {pretrained!r} is neither a local file nor an '
            f'open_clip tag of {model_name!r} (tags: '
            f'{open_clip.list_pretrained_tags_by_model(model_name)})')

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

    def forward_features(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)

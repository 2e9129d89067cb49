"""CLIP image encoder from transformers (hub name or a ``save_pretrained`` directory)."""
import os
import warnings
from typing import Any, Dict, List, Optional, Union

import torch
from PIL import Image

from vega_mm.registry import ANCHOR_ENCODERS
from .base import (OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ImageEncoder, _default_device,
                   file_sha256)

__all__ = ['HFCLIPImageEncoder']


def _weight_files(directory: str) -> List[str]:
    names = sorted(f for f in os.listdir(directory)
                   if f.endswith(('.safetensors', '.bin', '.pt', '.pth')))
    return [os.path.join(directory, f) for f in names]


def _float32() -> Dict[str, Any]:
    """``from_pretrained``'s float32 argument: ``dtype`` since transformers 4.56,
    ``torch_dtype`` before."""
    import transformers
    from packaging.version import Version
    key = 'dtype' if Version(transformers.__version__) >= Version('4.56') else 'torch_dtype'
    return {key: torch.float32}


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
                name_or_path, output_loading_info=True, **_float32(), **kwargs)
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

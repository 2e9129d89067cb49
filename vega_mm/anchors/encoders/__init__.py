"""CLIP image encoders that turn face images into anchor features.

One backend per module (``open_clip``, ``hf_clip``, ``mmpretrain_clip``) on the
contract and helpers of ``base``.

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
# The two private readers stay importable from here, where they lived before the split.
from .base import (_is_torchscript_archive, _read_state_dict,  # noqa: F401
                   ENCODER_ALIASES, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ImageEncoder,
                   build_image_encoder, file_sha256)
from .hf_clip import HFCLIPImageEncoder
from .mmpretrain_clip import MMPretrainCLIPImageEncoder
from .open_clip import OpenCLIPImageEncoder

__all__ = [
    'ImageEncoder', 'OpenCLIPImageEncoder', 'HFCLIPImageEncoder', 'MMPretrainCLIPImageEncoder',
    'build_image_encoder', 'file_sha256', 'ENCODER_ALIASES', 'OPENAI_CLIP_MEAN',
    'OPENAI_CLIP_STD'
]

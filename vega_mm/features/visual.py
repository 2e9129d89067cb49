"""Visual features: face crops of video frames, encoded like the anchors, averaged.

Frames are sampled evenly over the utterance's video segment, a face detector crops the
face (the whole frame is kept where none is found, and the rate is reported), and the
image encoder of the anchor builder (``vega_mm.encoders.build_image_encoder``, e.g. CLIP
ViT-B/32) encodes the crops.  Utterance features and visual anchors therefore live in
the same (L2-normalised) image space; an utterance's feature is the mean over its frames.
"""
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from vega_mm.conversations import ConversationTableError, Utterance
from vega_mm.speech.media import MediaError, is_video
from .base import BaseFeatureExtractor, register_extractor
from .frames import sample_video_frames

__all__ = ['VisualFeatureExtractor', 'visual_config_from_anchor_file']


def _build_encoder(encoder: Union[dict, Any]) -> Any:
    if isinstance(encoder, dict):
        from vega_mm.encoders import build_image_encoder
        return build_image_encoder(dict(encoder))
    if not hasattr(encoder, 'encode') or not hasattr(encoder, 'dim'):
        raise TypeError('visual encoder must be a config dict or an object with `.dim` and '
                        f'`.encode(images)`, got {type(encoder).__name__}')
    return encoder


def _build_detector(detector: Union[None, dict, Any]) -> Any:
    if detector is None or isinstance(detector, str) and detector.lower() == 'none':
        return None
    if isinstance(detector, str):
        detector = dict(type=detector)
    if isinstance(detector, dict):
        from vega_mm.anchors import build_face_detector
        return build_face_detector(dict(detector))
    if not hasattr(detector, 'crop'):
        raise TypeError('face detector must be a config dict, None or an object with '
                        f'`.crop(image) -> (image, found)`, got {type(detector).__name__}')
    return detector


def visual_config_from_anchor_file(path: str) -> Dict[str, Any]:
    """The image encoder and face detector an anchor file was built with.

    Use it so utterance faces are encoded exactly like the anchors::

        extract_features(..., visual=visual_config_from_anchor_file('anchors/meld.pt'))

    Returns:
        ``dict(encoder=..., face_detector=..., expected_identity=...)``, arguments of
        :class:`VisualFeatureExtractor` (which then checks the weights' SHA-256).

    Raises:
        ValueError: the file's ``meta`` does not say which encoder made it, or the
            encoder has no weights file (randomly initialised anchors).
    """
    from vega_mm.anchors import load_anchor_file
    meta = load_anchor_file(path)['meta']
    ident = meta.get('encoder')
    if not isinstance(ident, dict) or 'type' not in ident:
        raise ValueError(f'anchor file {path!r} does not record its image encoder '
                         '(meta.encoder); give the encoder config explicitly')
    kind = ident['type']
    if kind == 'OpenCLIPImageEncoder':
        cfg = dict(type=kind, model_name=ident['model'], pretrained=ident.get('weights'),
                   quick_gelu=ident.get('quick_gelu'))
    elif kind == 'HFCLIPImageEncoder':
        cfg = dict(type=kind, name_or_path=ident.get('weights') or ident['model'])
    elif kind == 'MMPretrainCLIPImageEncoder':
        cfg = dict(type=kind, arch=ident['model'], checkpoint=ident.get('weights'))
    else:
        raise ValueError(f'anchor file {path!r}: encoder type {kind!r} cannot be rebuilt '
                         'from its meta; give the encoder config explicitly')
    if ident.get('random_init'):
        raise ValueError(f'anchor file {path!r} was built with a randomly initialised '
                         'encoder; its features carry no emotion information')
    return dict(encoder=cfg, face_detector=meta.get('face_detector'),
                expected_identity=dict(ident))


@register_extractor(default=True)
class VisualFeatureExtractor(BaseFeatureExtractor):
    """Mean image-encoder embedding of face crops over an utterance's video frames.

    Args:
        encoder: config of ``vega_mm.encoders.build_image_encoder`` (use the one the
            anchors were built with), or an object with ``.dim`` and
            ``.encode(list_of_PIL_images, batch_size=...) -> Tensor[N, D]``.
        face_detector: ``FACE_DETECTORS`` config (default the Haar cascade), an object
            with ``.crop(image) -> (image, found)``, or None to encode whole frames.
        num_frames: frames sampled per utterance.
        batch_size: images per encoder call.
        tolerance: seconds a segment end may pass the end of its video.
        encoder_name: a description of the encoder for the feature file (default: the
            encoder's ``identity`` (weights and their SHA-256), else the config or type).
        expected_identity: an anchor file's ``meta['encoder']``; the built encoder must
            have the same weights (SHA-256) and dimension, so both share one space.

    Attributes:
        dim (int), modality (``'visual'``), faces_found / frames_seen (running counts).
    """
    modality = 'visual'
    needs_media = True

    def __init__(self, encoder: Union[dict, Any],
                 face_detector: Union[None, str, dict, Any] = 'HaarCascadeFaceDetector',
                 num_frames: int = 8, batch_size: int = 32, tolerance: float = 0.1,
                 encoder_name: Union[None, str, dict] = None,
                 expected_identity: Optional[Dict[str, Any]] = None) -> None:
        if num_frames < 1:
            raise ValueError(f'num_frames must be >= 1, got {num_frames}')
        self.encoder_cfg = encoder if isinstance(encoder, dict) else None
        self.encoder = _build_encoder(encoder)
        self.detector = _build_detector(face_detector)
        self.detector_name = None if self.detector is None else (
            self.detector.config() if hasattr(self.detector, 'config')
            else type(self.detector).__name__)
        self.num_frames = int(num_frames)
        self.batch_size = int(batch_size)
        self.tolerance = tolerance
        self.dim = int(self.encoder.dim)
        # What identifies the encoder: its weights identity when it has one (the anchor
        # builder's encoders do), else the config or the type name.
        identity = getattr(self.encoder, 'identity', None)
        self.encoder_name = encoder_name or (
            identity if isinstance(identity, dict) else
            repr(sorted(encoder.items())) if isinstance(encoder, dict)
            else str(getattr(self.encoder, 'name', type(self.encoder).__name__)))
        self.faces_found = 0
        self.frames_seen = 0
        if expected_identity is not None:
            got = identity if isinstance(identity, dict) else {}
            for key in ('weights_sha256', 'dim'):
                if key in expected_identity and got.get(key) != expected_identity[key]:
                    raise ValueError(
                        f'visual encoder {key} {got.get(key)!r} differs from the anchors\' '
                        f'{expected_identity[key]!r}: utterance features and anchors would '
                        'not share one space')

    @classmethod
    def check_settings(cls, cfg: Mapping[str, Any]) -> None:
        if 'encoder' not in cfg:
            raise ValueError("visual features need an image encoder: visual=dict(encoder=...) "
                             "(the anchor builder's, e.g. dict(type='OpenCLIPImageEncoder', "
                             "...))")
        super().check_settings(cfg)

    @classmethod
    def usable(cls, utterances: Sequence[Utterance]) -> bool:
        """Every media file is a video."""
        media = [u.media for u in utterances if u.media is not None]
        return bool(media) and all(is_video(m) for m in media)

    @classmethod
    def check_utterances(cls, utterances: Sequence[Utterance]) -> None:
        super().check_utterances(utterances)  # every utterance has media
        for u in utterances:
            if not is_video(u.media):
                raise ConversationTableError(
                    f'{u.source}: visual features need a video file, got {u.media!r}')

    def config(self) -> Dict[str, Any]:
        """What identifies these features (compared when an extraction resumes)."""
        return dict(type=type(self).__name__, encoder=self.encoder_name,
                    face_detector=self.detector_name, num_frames=self.num_frames,
                    dim=self.dim)

    def _crops(self, media: Optional[str], start: Optional[float], end: Optional[float],
               where: str) -> List[Any]:
        if media is None:
            raise MediaError(f'{where}: utterance has no media file')
        frames = sample_video_frames(media, self.num_frames, start, end, where,
                                     self.tolerance)
        if self.detector is None:
            return frames
        crops = []
        for frame in frames:
            crop, found = self.detector.crop(frame)
            self.faces_found += int(bool(found))
            crops.append(crop)
        self.frames_seen += len(frames)
        return crops

    def report(self) -> Optional[str]:
        if not self.frames_seen:
            return None
        return f'faces found in {self.faces_found} of {self.frames_seen} frames'

    def extract(self, utterances: Sequence[Utterance]) -> np.ndarray:
        """Features of :class:`~vega_mm.conversations.Utterance` objects [N, dim]."""
        images: List[Any] = []
        owner: List[int] = []
        for i, u in enumerate(utterances):
            crops = self._crops(u.media, u.start, u.end, u.source)
            images.extend(crops)
            owner.extend([i] * len(crops))
        out = np.zeros((len(utterances), self.dim), dtype=np.float32)
        if not images:
            return out
        feats = []
        for i in range(0, len(images), self.batch_size):
            emb = self.encoder.encode(images[i:i + self.batch_size],
                                      batch_size=self.batch_size)
            feats.append(np.asarray(emb.detach().cpu().numpy() if hasattr(emb, 'detach')
                                    else emb, dtype=np.float32))
        feats_arr = np.concatenate(feats)
        if feats_arr.shape != (len(images), self.dim):
            raise RuntimeError(f'image encoder returned shape {feats_arr.shape} for '
                               f'{len(images)} images, expected ({len(images)}, {self.dim})')
        owner_arr = np.asarray(owner)
        np.add.at(out, owner_arr, feats_arr)
        out /= np.bincount(owner_arr, minlength=len(utterances))[:, None]
        return out

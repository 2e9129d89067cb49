"""From generic build options to the arguments of one image encoder and of a build.

A user names an encoder library (``open_clip``, ``hf_clip``, ``mmpretrain_clip``) and
generic options (``model``, ``weights``, ``device``, ...); each encoder takes them under
its own argument names (``ImageEncoder.MODEL_ARG`` / ``WEIGHTS_ARG``, declared by the
encoder classes).  ``tools/build_anchors.py`` is this module plus argument parsing::

    kwargs = anchor_build_config('my_anchor_cfg.py', encoder='hf_clip', weights='clip/')
    report = build_anchor_bank_from_folder('faces/', **kwargs)
"""
import inspect
from typing import Any, Dict, Mapping, Optional, Sequence, Type, Union

from vega_mm.encoders import ENCODER_ALIASES, ImageEncoder
from vega_mm.registry import ANCHOR_ENCODERS

__all__ = ['ANCHOR_CONFIG_KEYS', 'DEFAULT_ENCODER', 'DEFAULT_FACE_DETECTOR',
           'image_encoder_config', 'anchor_build_config']

#: The encoder used when neither the options nor a config file name one (the paper's).
DEFAULT_ENCODER = 'open_clip'
#: The detector ``detect_faces=True`` adds when a config file names none.
DEFAULT_FACE_DETECTOR = 'HaarCascadeFaceDetector'
#: The entries an anchor build config file may have.
ANCHOR_CONFIG_KEYS = ('encoder', 'face_detector', 'classes', 'class_mapping', 'batch_size')


def _encoder_class(kind: str) -> Type[ImageEncoder]:
    cls = ANCHOR_ENCODERS.get(ENCODER_ALIASES.get(kind, kind))
    if cls is None:
        raise KeyError(f'unknown image encoder {kind!r}; choose one of '
                       f'{sorted(ENCODER_ALIASES)} or a registered type '
                       f'{sorted(ANCHOR_ENCODERS.module_dict)}')
    return cls


def _canonical(kind: Optional[str]) -> Optional[str]:
    """The registered class name of an encoder type or alias (``None`` stays ``None``)."""
    return None if kind is None else _encoder_class(kind).__name__


def image_encoder_config(encoder: Optional[str] = None,
                         model: Optional[str] = None,
                         weights: Optional[str] = None,
                         base: Optional[Mapping[str, Any]] = None,
                         **options: Any) -> Dict[str, Any]:
    """An image encoder config (for ``build_image_encoder``) from generic options.

    Args:
        encoder: a short name (``'open_clip'``, ``'hf_clip'``, ``'mmpretrain_clip'``) or
            a registered type; ``None`` keeps ``base``'s type, else :data:`DEFAULT_ENCODER`.
        model: model name or architecture, passed as the encoder's ``MODEL_ARG``;
            without it (and without one in ``base``) the encoder's default is written.
        weights: tag, file or directory of weights, passed as its ``WEIGHTS_ARG``
            (for ``hf_clip`` one directory is both, and ``weights`` wins).
        base: an ``encoder`` entry of a config file, the options go on top of it; it
            is dropped when ``encoder`` names another encoder (its arguments would not
            apply).
        **options: other constructor arguments (``device``, ``quick_gelu``, ...);
            ``None`` means not given.

    Returns:
        dict with ``type`` (the registered class name) and the encoder's arguments.

    Raises:
        KeyError: unknown encoder.
        ValueError: an option the encoder does not take.
    """
    base = dict(base or {})
    base_type = _canonical(base.get('type'))
    cls = _encoder_class(encoder or base_type or DEFAULT_ENCODER)
    cfg = base if cls.__name__ == base_type else {}
    cfg['type'] = cls.__name__
    params = inspect.signature(cls).parameters
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
    given = {k: v for k, v in options.items() if v is not None}
    # weights after model: where one argument takes both (hf_clip), weights win
    for generic, arg, value in (('model', cls.MODEL_ARG, model),
                                ('weights', cls.WEIGHTS_ARG, weights)):
        if value is None:
            continue
        if not arg:
            raise ValueError(f'{cls.__name__} does not say which argument takes the '
                             f'{generic!r} option ({cls.__name__}.'
                             f'{generic.upper()}_ARG is empty)')
        given[arg] = value
    for key, value in given.items():
        if key not in params and not takes_any:
            raise ValueError(f'{cls.__name__} has no option {key!r}; it takes '
                             f'{list(params)}')
        cfg[key] = value
    default = params.get(cls.MODEL_ARG)
    if default is not None and default.default is not inspect.Parameter.empty:
        # written out so that the config says which model was used
        cfg.setdefault(cls.MODEL_ARG, default.default)
    return cfg


def anchor_build_config(config: Union[None, str, Mapping[str, Any]] = None,
                        *,
                        encoder: Optional[str] = None,
                        model: Optional[str] = None,
                        weights: Optional[str] = None,
                        classes: Union[None, str, Sequence[str]] = None,
                        class_mapping: Union[None, str, Mapping[str, str],
                                             Sequence[str]] = None,
                        detect_faces: Optional[bool] = None,
                        face_margin: Optional[float] = None,
                        batch_size: Optional[int] = None,
                        **encoder_options: Any) -> Dict[str, Any]:
    """The arguments of ``build_anchor_bank_from_folder``: a config file's entries with
    the given options on top (``None`` = not given).

    Args:
        config: a python config file (or its dict) with some of
            :data:`ANCHOR_CONFIG_KEYS`; ``None`` for options only.
        encoder, model, weights: see :func:`image_encoder_config`.
        classes: anchor classes (``'iemocap'``, ``'meld'``, ``'a,b,c'`` or a list).
        class_mapping: classes without images -> the class whose images they use.
        detect_faces: crop faces first, with the config's ``face_detector`` or
            :data:`DEFAULT_FACE_DETECTOR`.
        face_margin: margin around detected faces (fraction of the box).
        batch_size: images per batch (default 32).
        **encoder_options: further encoder arguments (``device``, ``quick_gelu``).

    Returns:
        dict with ``encoder``, ``classes``, ``class_mapping``, ``face_detector`` and
        ``batch_size``.

    Raises:
        KeyError: an entry of the config file that is not one of
            :data:`ANCHOR_CONFIG_KEYS`, or an unknown encoder.
        ValueError: ``face_margin`` without a face detector, or an option the encoder
            does not take.
    """
    where = 'the anchor config'
    if isinstance(config, str):
        from mmengine.config import Config
        where = config
        config = Config.fromfile(config).to_dict()
    file_cfg = dict(config or {})
    # names starting with '_' are the file's own helper variables
    unknown = sorted(k for k in file_cfg if k not in ANCHOR_CONFIG_KEYS and k[0] != '_')
    if unknown:
        raise KeyError(f'{where}: unknown entries {unknown}; expected some of '
                       f'{list(ANCHOR_CONFIG_KEYS)}')
    face = file_cfg.get('face_detector')
    if detect_faces:
        face = face or dict(type=DEFAULT_FACE_DETECTOR)
    if face_margin is not None:
        if not isinstance(face, Mapping):
            raise ValueError(f'face_margin={face_margin} needs a face detector config: '
                             f'detect faces, or give a face_detector dict in {where} '
                             f'(got {face!r})')
        face = dict(face, margin=face_margin)
    return dict(
        encoder=image_encoder_config(encoder, model, weights, file_cfg.get('encoder'),
                                     **encoder_options),
        classes=classes if classes is not None else file_cfg.get('classes'),
        class_mapping=class_mapping if class_mapping is not None
        else file_cfg.get('class_mapping'),
        face_detector=None if face is None else dict(face),
        batch_size=batch_size or file_cfg.get('batch_size', 32))

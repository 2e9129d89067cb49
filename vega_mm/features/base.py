"""The feature-extractor contract shared by every modality.

An extractor turns the utterances of conversation tables into one float32 feature
vector each.  It subclasses :class:`BaseFeatureExtractor`, names its ``modality`` and is
registered with :func:`register_extractor`, which puts it in
:data:`vega_mm.registry.FEATURE_EXTRACTORS` under its class name and, for the default
extractor of a modality, under the modality name too.  The pipeline
(:func:`~vega_mm.features.extract.extract_features`) knows modalities only through this
registry: a config ``text=dict(...)`` without ``type`` builds ``FEATURE_EXTRACTORS``
entry ``'text'``.
"""
import inspect
from typing import (Any, Callable, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple,
                    Type)

import numpy as np

from vega_mm.conversations import ConversationTableError, Dialogue, Utterance
from vega_mm.registry import FEATURE_EXTRACTORS
from vega_mm.speech.media import MediaError
from vega_mm.structures.meta import MODALITIES
from .standardize import apply_feature_stats

__all__ = ['BaseFeatureExtractor', 'register_extractor', 'extractor_class',
           'build_extractor', 'registered_modalities', 'jsonable', 'dialogue_features']


class BaseFeatureExtractor:
    """Utterances -> features of one modality.

    Subclasses set the class attributes, implement :meth:`config` and :meth:`extract`,
    and may refine the class methods that check tables and settings before anything is
    built.

    Attributes:
        modality (str): the modality the features are stored under (one of
            :data:`~vega_mm.structures.meta.MODALITIES`).
        needs_media (bool): reads each utterance's media file (the pipeline then checks
            every file exists before extracting anything).
        across_dialogues (bool): :meth:`extract` is given the utterances of many
            dialogues at once (batched encoders); otherwise one dialogue at a time, so a
            :class:`~vega_mm.speech.media.MediaError` costs only that dialogue.
        runtime_settings (tuple): constructor arguments that do not change the features
            (left out when deciding whether saved parts can be reused).
        past_turns (int): how many previous utterances of its dialogue an utterance's
            features depend on (0: the utterance alone); the live mode gives
            :meth:`extract` that much history with each new utterance.
        dim (int): the feature dimension (set by the constructor).
    """
    modality: ClassVar[str] = ''
    needs_media: ClassVar[bool] = False
    across_dialogues: ClassVar[bool] = False
    past_turns: int = 0
    runtime_settings: ClassVar[Tuple[str, ...]] = ('device', 'batch_size')
    dim: int

    def config(self) -> Dict[str, Any]:
        """The settings that identify these features (``type`` and ``dim`` included).

        Recorded in the feature file (``extra.extractors[modality]``), so that a new
        conversation can be encoded the same way; JSON-serialisable.
        """
        raise NotImplementedError

    def extract(self, utterances: Sequence[Utterance]) -> np.ndarray:
        """Features of :class:`~vega_mm.conversations.Utterance` objects.

        Returns:
            float32 ``[len(utterances), dim]``, in the input order.

        Raises:
            MediaError: a media file is missing, unreadable or too short.
        """
        raise NotImplementedError

    def report(self) -> Optional[str]:
        """A line for the log once extraction is done (None: nothing to say)."""
        return None

    @classmethod
    def settings(cls, cfg: Mapping[str, Any]) -> Dict[str, Any]:
        """``cfg`` with the constructor's defaults filled in, so that a setting given
        explicitly and the same setting left to its default compare equal."""
        out = dict(cfg)
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if name != 'self' and param.default is not inspect.Parameter.empty:
                out.setdefault(name, param.default)
        return out

    @classmethod
    def check_settings(cls, cfg: Mapping[str, Any]) -> None:
        """Raise ValueError, naming the modality and argument, if a required constructor
        argument is missing from ``cfg`` (checked before any expensive work)."""
        required = [name for name, p in inspect.signature(cls.__init__).parameters.items()
                    if name != 'self' and p.default is inspect.Parameter.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        missing = [name for name in required if name not in cfg]
        if missing:
            raise ValueError(f'{cls.modality} features need {missing}: '
                             f'{cls.modality}=dict({missing[0]}=...)')

    @classmethod
    def usable(cls, utterances: Sequence[Utterance]) -> bool:
        """Whether ``modalities='auto'`` picks this modality for these utterances."""
        raise NotImplementedError

    @classmethod
    def check_utterances(cls, utterances: Sequence[Utterance]) -> None:
        """Raise :class:`~vega_mm.conversations.ConversationTableError`, naming the row,
        if a table cannot give this modality (checked before anything is extracted).

        The base check: extractors that ``needs_media`` need a media file for every
        utterance; a missing modality is never zero-filled.
        """
        if not cls.needs_media:
            return
        for u in utterances:
            if u.media is None:
                raise ConversationTableError(
                    f'{u.source}: {cls.modality} features were asked for but the utterance '
                    'has no media (no media column or media directory); leave the '
                    'modality out instead (it is never zero-filled)')


def register_extractor(default: bool = False):
    """Class decorator: register a :class:`BaseFeatureExtractor` subclass in
    ``FEATURE_EXTRACTORS`` under its class name and, with ``default=True``, under its
    modality (what a config without ``type`` builds).

    Raises:
        TypeError / ValueError: not an extractor, or an unknown modality.
    """

    def wrap(cls: Type[BaseFeatureExtractor]) -> Type[BaseFeatureExtractor]:
        if not (isinstance(cls, type) and issubclass(cls, BaseFeatureExtractor)):
            raise TypeError(f'{cls!r} is not a BaseFeatureExtractor subclass')
        if cls.modality not in MODALITIES:
            raise ValueError(f'{cls.__name__}.modality is {cls.modality!r}; expected one of '
                             f'{MODALITIES} (the modalities a feature file may hold)')
        names = [cls.__name__] + ([cls.modality] if default else [])
        FEATURE_EXTRACTORS.register_module(name=names, module=cls)
        return cls

    return wrap


def registered_modalities() -> Tuple[str, ...]:
    """The modalities with a default extractor, in canonical order."""
    return tuple(m for m in MODALITIES if FEATURE_EXTRACTORS.get(m) is not None)


def extractor_class(modality: str,
                    cfg: Optional[Mapping[str, Any]] = None) -> Type[BaseFeatureExtractor]:
    """The extractor class a modality's config builds (``cfg['type']``, default the
    modality's registered default).

    Raises:
        KeyError: no such extractor is registered.
        ValueError: the extractor is of another modality.
    """
    name = (cfg or {}).get('type', modality)
    cls = name if isinstance(name, type) else FEATURE_EXTRACTORS.get(name)
    if cls is None:
        known = [k for k, v in FEATURE_EXTRACTORS.module_dict.items()
                 if getattr(v, 'modality', None) == modality and k != modality]
        raise KeyError(f'{modality} features: no extractor {name!r} in FEATURE_EXTRACTORS; '
                       f'registered for {modality}: {known}')
    if not issubclass(cls, BaseFeatureExtractor) or cls.modality != modality:
        raise ValueError(f'{modality} features: extractor {getattr(cls, "__name__", cls)!r} '
                         f'extracts {getattr(cls, "modality", None)!r} features')
    return cls


def build_extractor(modality: str, cfg: Mapping[str, Any]) -> BaseFeatureExtractor:
    """Build a modality's extractor from its config (``type`` defaults to the modality)."""
    cfg = dict(cfg)
    cfg.setdefault('type', modality)
    return FEATURE_EXTRACTORS.build(cfg)


def dialogue_features(
        dialogues: Sequence[Dialogue], extractors: Mapping[str, BaseFeatureExtractor],
        recipe: Optional[Mapping[str, Any]] = None,
        on_media_error: Optional[Callable[[Dialogue, MediaError], None]] = None,
        on_done: Optional[Callable[[Dialogue, Optional[Dict[str, np.ndarray]]], None]] = None,
) -> List[Optional[Dict[str, np.ndarray]]]:
    """Features of whole dialogues: the one function from utterances to features, for
    extraction (:func:`~vega_mm.features.extract.extract_features`) and inference
    (:class:`~vega_mm.apis.ConversationInferencer`, the live mode).

    Extractors that batch across dialogues (``across_dialogues``) are called once for
    all the utterances, the others once per dialogue.

    Args:
        dialogues: the dialogues.
        extractors: modality -> extractor.
        recipe: a model's feature recipe; when its training features were standardised,
            its recorded statistics are applied (features as the model was trained on).
        on_media_error: called with a dialogue whose media a per-dialogue extractor
            cannot use; that dialogue's entry is then None. Without it the
            :class:`~vega_mm.speech.media.MediaError` propagates.
        on_done: called with each dialogue and its entry as soon as it is done (a
            resumable extraction stores it then).

    Returns:
        One ``{modality: float32 [L, D]}`` per dialogue (modalities in ``extractors``'
        order), None for a dialogue left out by ``on_media_error``.
    """
    feats: List[Optional[Dict[str, np.ndarray]]] = [{} for _ in dialogues]
    for m, ext in extractors.items():
        if ext.across_dialogues:  # one call for all, split afterwards
            emb = ext.extract([u for d in dialogues for u in d.utterances])
            for f, x in zip(feats, np.split(emb, np.cumsum([len(d) for d in dialogues])[:-1])):
                f[m] = x
    recipe = recipe or {}
    stats = (recipe.get('feature_stats') or {}) if recipe.get('standardized') else {}
    for i, d in enumerate(dialogues):
        try:
            for m, ext in extractors.items():
                if not ext.across_dialogues:
                    feats[i][m] = ext.extract(d.utterances)
        except MediaError as exc:
            if on_media_error is None:
                raise
            on_media_error(d, exc)
            feats[i] = None
        else:
            feats[i] = {m: feats[i][m] if stats.get(m) is None else
                        apply_feature_stats(feats[i][m], stats[m], m) for m in extractors}
        if on_done is not None:
            on_done(d, feats[i])
    return feats


def jsonable(obj: Any) -> Any:
    """A JSON-comparable description of settings: mappings with sorted keys, sequences
    as lists, extractors by their :meth:`~BaseFeatureExtractor.config`, other objects by
    their ``name`` or type name."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    if isinstance(obj, BaseFeatureExtractor):
        return jsonable(obj.config())
    return str(getattr(obj, 'name', type(obj).__name__))

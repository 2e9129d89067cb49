"""A trained model's input recipe: how to turn a new conversation into its features.

A checkpoint trained on a feature file made by ``tools/extract_features.py`` carries the
file's recipe in ``meta.dataset_meta`` (see
:func:`vega_mm.datasets.conversation_dataset.feature_recipe`): per modality the
extractor's settings, the standardisation statistics, and beside them the class list
and the speaker names.  This module checks that the recipe can be honoured here and
applies it; every problem is a :class:`RecipeError` raised before any work is done.
"""
import inspect
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np

from vega_mm.conversations import OTHER_SPEAKER, speaker_key
from vega_mm.features.base import (BaseFeatureExtractor, build_extractor, dialogue_features,
                                   extractor_class)

# dialogue_features is vega_mm.features.base's (one function for extraction and
# inference), named here too for the inferencer and the live mode
__all__ = ['RecipeError', 'build_recipe_extractors', 'speaker_indices',
           'dialogue_features']

# Recorded facts about the features, not constructor arguments; compared after building.
_CHECKED_KEYS = ('weights', 'dim', 'type')


class RecipeError(ValueError):
    """A model's input recipe cannot be honoured; the message says what to do."""


def _constructor_args(cls: type, cfg: Mapping[str, Any]) -> Dict[str, Any]:
    params = inspect.signature(cls.__init__).parameters
    return {k: v for k, v in cfg.items() if k in params and k != 'self'}


def _installed_copies(modality: str) -> List[str]:
    """The folders of the encoders of a modality that pip installed on this machine
    (MiniLM, mpnet for text, :mod:`vega_mm.features.text_models`; Whisper base for
    audio, :mod:`vega_mm.encoders.whisper`)."""
    if modality == 'text':
        from vega_mm.features.text_models import installed_text_models
        return installed_text_models()
    if modality == 'audio':
        from vega_mm.encoders.whisper import whisper_base_model
        try:
            folder = whisper_base_model()
        except RuntimeError:  # half installed: the recorded folder's error is clearer
            return []
        return [folder] if os.path.isdir(folder) else []
    return []


def _build(modality: str, cfg: Dict[str, Any], rec: Mapping[str, Any],
           options: Mapping[str, Any]) -> BaseFeatureExtractor:
    """Build an extractor; an encoder folder recorded on another machine (e.g. inside
    another virtual environment) that is missing here is replaced by this machine's
    installed copy when its weights digest is the recorded one."""
    try:
        return build_extractor(modality, cfg)
    except OSError:
        if 'model' in options or 'weights' not in rec:
            raise
        for local in _installed_copies(modality):
            if local == cfg.get('model'):
                continue
            ext = build_extractor(modality, dict(cfg, model=local))
            if ext.config().get('weights') == rec['weights']:
                return ext
        raise


def build_recipe_extractors(recipe: Optional[Mapping[str, Any]], modalities: Sequence[str],
                            input_dims: Mapping[str, int], source: str,
                            options: Optional[Mapping[str, Mapping[str, Any]]] = None
                            ) -> Dict[str, BaseFeatureExtractor]:
    """Build the extractors a model was trained with, checked against the recipe.

    Args:
        recipe: ``dataset_meta['feature_recipe']`` of the checkpoint (None: trained on
            a file without one).
        modalities: the model's modalities.
        input_dims: the model's feature dimension per modality.
        source: the checkpoint file (for messages).
        options: modality -> settings that replace recorded ones, e.g.
            ``{'text': {'model': '/path/to/local/copy'}}`` (an encoder recorded by hub
            name, or stored elsewhere); the weights must still be the recorded ones.

    Returns:
        modality -> extractor, in the model's modality order.

    Raises:
        RecipeError: no recipe, a modality without a recorded extractor, an encoder
            that cannot be loaded, weights whose digest differs from the recorded one,
            or features of another dimension than the model takes.
    """
    if not recipe or not recipe.get('extractors'):
        raise RecipeError(
            f'{source}: this model was trained on a feature file without a recipe (public '
            'SDT/VEGA pickles, or a converted file): it does not record how its features '
            'were made, so it cannot read raw conversations. Give it a feature file made '
            'the same way instead (.npz or .pkl), or retrain on features from '
            'tools/extract_features.py')
    options = {m: dict(o) for m, o in (options or {}).items()}
    unknown = [m for m in options if m not in modalities]
    if unknown:
        raise RecipeError(f'extractor options for {unknown}, but the model uses only '
                          f'{list(modalities)}')
    recorded = recipe['extractors']
    missing = [m for m in modalities if m not in recorded]
    if missing:
        raise RecipeError(f'{source}: the model uses {list(modalities)} but its recipe '
                          f'records extractors for {sorted(recorded)} only (missing '
                          f'{missing}): the checkpoint does not fit this config')
    built = {}
    for m in modalities:
        rec = dict(recorded[m])
        cls = extractor_class(m, rec)
        cfg = dict(_constructor_args(cls, rec), **options.get(m, {}), type=rec['type'])
        where = cfg.get('model', cfg.get('encoder', rec['type']))
        try:
            ext = _build(m, cfg, rec, options.get(m, {}))
        except (OSError, ImportError) as exc:
            key = 'model' if 'model' in rec else 'encoder'
            given = options.get(m, {})
            if key in given:  # the user's own path failed, not the recorded one
                raise RecipeError(
                    f'extractor option {m}.{key}={given[key]!r} (given instead of the '
                    f'recorded {rec.get(key)!r}) cannot be loaded: {exc}. Expected a local '
                    'copy of the recorded weights') from exc
            raise RecipeError(
                f'{source}: the {m} encoder {where!r} recorded in the model\'s recipe is not '
                f'available here ({exc}). Point at a local copy of the same weights: '
                f"ConversationInferencer(..., extractor_options={{'{m}': {{'{key}': "
                f"'/path/to/copy'}}}}) or tools/infer.py --extractor-option "
                f'{m}.{key}=/path/to/copy') from exc
        got = ext.config()
        for key in _CHECKED_KEYS:
            if key in rec and key not in options.get(m, {}) and got.get(key) != rec[key]:
                what = 'weights digest' if key == 'weights' else key
                raise RecipeError(
                    f'{source}: {m} extractor {where!r}: {what} is {got.get(key)!r} but the '
                    f'model was trained with {rec[key]!r}: these are not the weights its '
                    'features were made with; point at the recorded ones')
        if int(ext.dim) != int(input_dims[m]):
            raise RecipeError(f'{source}: the {m} extractor gives {ext.dim}-d features but the '
                              f'model takes {input_dims[m]}-d ones')
        built[m] = ext
    return built


def speaker_indices(speakers: Sequence[Any], speaker_names: Optional[Sequence[str]],
                    num_speakers: int, where: str) -> np.ndarray:
    """Speaker names (or indices) -> the indices the model was trained with.

    A name is looked up in the checkpoint's ``speaker_names`` by the rule the feature
    files were made with (:mod:`vega_mm.conversations.speakers`: case and spacing do not
    matter); names it does not know take the shared ``'other'`` index when the training
    data had one, otherwise they are an error.  Integers are taken as indices.

    Returns:
        int64 ``[len(speakers)]``.

    Raises:
        RecipeError: an unknown name and no ``'other'``, or an index out of range.
    """
    lookup = {speaker_key(n): i for i, n in enumerate(speaker_names or ())}
    out = []
    for s in speakers:
        if isinstance(s, (int, np.integer)) and not isinstance(s, bool):
            idx = int(s)
        elif speaker_key(s) in lookup:
            idx = lookup[speaker_key(s)]
        elif OTHER_SPEAKER in lookup:
            idx = lookup[OTHER_SPEAKER]
        else:
            raise RecipeError(f'{where}: speaker {s!r} is not one the model was trained with '
                              f'({list(speaker_names or [])}); use one of those names or '
                              f'an index in [0, {num_speakers})')
        if not 0 <= idx < num_speakers:
            raise RecipeError(f'{where}: speaker index {idx} is outside [0, {num_speakers})')
        out.append(idx)
    return np.asarray(out, dtype=np.int64)

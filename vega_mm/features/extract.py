"""From conversation tables to a native feature file, resumable.

:func:`extract_features` reads the tables (:mod:`vega_mm.features.table`), checks every
row and media file first, then extracts the requested modalities dialogue by dialogue.
Each finished dialogue is written atomically to ``<out>.parts/`` (one small ``.npz``); an
interrupted run started again skips the dialogues already there, provided the settings
and tables are the same (checked against ``<out>.parts/manifest.json``).  When every
dialogue is done, the parts are standardised with training-split statistics and
assembled into the output file (atomic rename), see ``docs/internals.md``.
"""
import hashlib
import inspect
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from vega_mm.registry import FEATURE_EXTRACTORS
from .media import MediaError, is_audio, is_video, video_audio_backend
from .standardize import apply_feature_stats, compute_feature_stats
from .table import (MELD_CLASSES, ConversationTableError, Dialogue,
                    build_speaker_map, group_dialogues, read_conversation_table,
                    split_train_val)
from .text import finetune_text_encoder, resolve_text_model

__all__ = ['TableSpec', 'ConversationTables', 'load_tables', 'extract_features',
           'MODALITIES']

MODALITIES = ('text', 'audio', 'visual')
SPLIT_ORDER = ('train', 'val', 'test')
_MANIFEST_VERSION = 1


@dataclass
class TableSpec:
    """One conversation table and the split its dialogues go to.

    Args:
        path: the table (CSV/TSV/JSONL; MELD CSVs are detected).
        split: ``'train'``, ``'val'`` or ``'test'``.
        fmt: ``'auto'``, ``'meld'``, ``'csv'`` or ``'jsonl'``.
        media_dir: directory of the media files (MELD: of the ``dia*_utt*.mp4`` clips).
        media_template: media path pattern (``{dialogue}``, ``{utterance}``) for tables
            without a media column.
        tag: dialogue-id prefix; default: MELD's split name from the file name
            (``train``/``dev``/``test``), else ``split``.
        columns: explicit column names (see :data:`~vega_mm.features.table.COLUMN_ALIASES`).
    """
    path: str
    split: str = 'train'
    fmt: str = 'auto'
    media_dir: Optional[str] = None
    media_template: Optional[str] = None
    tag: Optional[str] = None
    columns: Optional[Dict[str, str]] = None


@dataclass
class ConversationTables:
    """Validated dialogues of all tables, with labels and speakers resolved."""
    dialogues: List[Dialogue]
    classes: Tuple[str, ...]
    labels: Dict[str, np.ndarray]  # dialogue id -> int64 [L]
    speaker_map: Dict[str, int]
    speaker_names: List[str]
    repairs: Dict[str, str] = field(default_factory=dict)  # table -> summary
    tables: List[Dict[str, Any]] = field(default_factory=list)
    val_rule: Optional[Dict[str, Any]] = None

    def split_ids(self) -> Dict[str, List[str]]:
        out: Dict[str, List[str]] = {s: [] for s in SPLIT_ORDER}
        for d in self.dialogues:
            out[d.split].append(d.dialogue_id)
        return out

    def speakers(self, dialogue: Dialogue) -> np.ndarray:
        return np.asarray([self.speaker_map[u.speaker] for u in dialogue.utterances],
                          dtype=np.int64)


def _default_tag(spec: TableSpec, fmt: str) -> str:
    if spec.tag:
        return spec.tag
    if fmt == 'meld':
        stem = os.path.basename(spec.path).split('_')[0].lower()
        if stem in ('train', 'dev', 'test'):
            return stem
    return spec.split


def _sha1(path: str) -> str:
    h = hashlib.sha1()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def load_tables(tables: Sequence[TableSpec], classes: Optional[Sequence[str]] = None,
                val_fraction: float = 0.1, split_seed: int = 0,
                max_speakers: Optional[int] = 9, fix_mojibake: bool = True,
                log: Callable[[str], None] = print) -> ConversationTables:
    """Read and validate all tables; derive the validation split if none is given.

    Without a ``val`` table, ``val_fraction`` of the training dialogues (deterministic,
    see :func:`~vega_mm.features.table.split_train_val`) become validation.

    Args:
        classes: class names; default MELD's order for MELD tables, else the sorted
            labels of the training table(s) (reported).

    Raises:
        ConversationTableError: unknown emotions (with file, line and the known
            classes), dialogues split across tables, and every error of
            :func:`~vega_mm.features.table.read_conversation_table`.
    """
    if not tables:
        raise ValueError('no conversation table given')
    bad = [t.split for t in tables if t.split not in SPLIT_ORDER]
    if bad:
        raise ValueError(f'table split must be one of {SPLIT_ORDER}, got {bad}')
    if not any(t.split == 'train' for t in tables):
        raise ValueError('a training table is needed (its speakers, validation split '
                         'and standardisation statistics come from it)')
    dialogues: List[Dialogue] = []
    owner: Dict[str, str] = {}
    repairs: Dict[str, str] = {}
    infos: List[Dict[str, Any]] = []
    formats = []
    for spec in tables:
        utts, rep, fmt = read_conversation_table(
            spec.path, fmt=spec.fmt, tag=None, columns=spec.columns,
            media_dir=spec.media_dir, media_template=spec.media_template,
            fix_mojibake=fix_mojibake)
        tag = _default_tag(spec, fmt)
        for u in utts:
            u.dialogue_id = f'{tag}/{u.dialogue_id}'
        formats.append(fmt)
        if len(rep):
            repairs[spec.path] = rep.summary()
            log(f'{spec.path}: repaired text: {rep.summary()}')
        for d in group_dialogues(utts, spec.split):
            if d.dialogue_id in owner:
                raise ConversationTableError(
                    f'{spec.path}: dialogue {d.dialogue_id!r} also appears in '
                    f'{owner[d.dialogue_id]}; give the tables different tags')
            owner[d.dialogue_id] = spec.path
            dialogues.append(d)
        infos.append(dict(path=os.path.abspath(spec.path), split=spec.split, tag=tag,
                          format=fmt, rows=len(utts), sha1=_sha1(spec.path),
                          media_dir=None if spec.media_dir is None
                          else os.path.abspath(spec.media_dir)))
    # Classes and labels.
    if classes is None:
        if all(f == 'meld' for f in formats):
            classes = MELD_CLASSES
        else:
            seen = sorted({u.label.lower() for d in dialogues if d.split == 'train'
                           for u in d.utterances if u.label is not None})
            if not seen:
                raise ConversationTableError('the training table has no labels; give the '
                                             'class names explicitly')
            classes = tuple(seen)
            log(f'classes (sorted training labels): {list(classes)}')
    classes = tuple(str(c) for c in classes)
    index = {c.lower(): i for i, c in enumerate(classes)}
    labels: Dict[str, np.ndarray] = {}
    unlabelled = 0
    for d in dialogues:
        lab = []
        for u in d.utterances:
            if u.label is None:
                lab.append(-1)
                unlabelled += 1
                continue
            if u.label.lower() not in index:
                raise ConversationTableError(
                    f'{u.source}: unknown emotion {u.label!r} (dialogue {d.dialogue_id!r}, '
                    f'utterance {u.utterance_id!r}); known classes: {list(classes)}')
            lab.append(index[u.label.lower()])
        labels[d.dialogue_id] = np.asarray(lab, dtype=np.int64)
    if unlabelled:
        log(f'{unlabelled} utterance(s) have no label (stored as -1)')
    # Validation split.
    val_rule = None
    if not any(d.split == 'val' for d in dialogues):
        train_ids = [d.dialogue_id for d in dialogues if d.split == 'train']
        _, val_ids = split_train_val(train_ids, val_fraction, split_seed)
        val_set = set(val_ids)
        for d in dialogues:
            if d.dialogue_id in val_set:
                d.split = 'val'
        val_rule = dict(source='train', fraction=val_fraction, seed=split_seed,
                        num_dialogues=len(val_ids))
    # Speakers, by frequency in the (final) training split.
    train_spk = [u.speaker for d in dialogues if d.split == 'train' for u in d.utterances]
    all_spk = [u.speaker for d in dialogues for u in d.utterances]
    speaker_map, speaker_names = build_speaker_map(train_spk, all_spk, max_speakers)
    order = {s: i for i, s in enumerate(SPLIT_ORDER)}
    dialogues.sort(key=lambda d: order[d.split])  # stable: file order inside a split
    return ConversationTables(dialogues, classes, labels, speaker_map, speaker_names,
                              repairs, infos, val_rule)


# ----------------------------------------------------------------------------- helpers
def _auto_modalities(conv: ConversationTables) -> Tuple[str, ...]:
    utts = [u for d in conv.dialogues for u in d.utterances]
    mods = []
    if all(u.text is not None for u in utts):
        mods.append('text')
    media = [u.media for u in utts if u.media is not None]
    if media:
        videos = [m for m in media if is_video(m)]
        if all(is_audio(m) for m in media) or (videos and video_audio_backend()):
            mods.append('audio')
        if len(videos) == len(media):
            mods.append('visual')
    return tuple(mods)


def _check_modalities(conv: ConversationTables, modalities: Sequence[str]) -> None:
    for m in modalities:
        if m not in MODALITIES:
            raise ValueError(f'unknown modality {m!r}; expected some of {MODALITIES}')
    if 'text' in modalities:
        for d in conv.dialogues:
            for u in d.utterances:
                if u.text is None:
                    raise ConversationTableError(
                        f'{u.source}: text features were asked for but the table has no '
                        'text column')
    for m in ('audio', 'visual'):
        if m in modalities:
            no_media = [d for d in conv.dialogues if any(u.media is None for u in d.utterances)]
            if no_media:
                u = next(u for u in no_media[0].utterances if u.media is None)
                raise ConversationTableError(
                    f'{u.source}: {m} features were asked for but the utterance has no '
                    'media (no media column or media directory); leave the modality out '
                    'instead (it is never zero-filled)')
            if m == 'visual':
                for d in conv.dialogues:
                    for u in d.utterances:
                        if not is_video(u.media):
                            raise ConversationTableError(
                                f'{u.source}: visual features need a video file, got '
                                f'{u.media!r}')


def _missing_media(d: Dialogue) -> Optional[str]:
    for u in d.utterances:
        if u.media is not None and not os.path.isfile(u.media):
            return f'{u.source}: media file {u.media!r} does not exist'
    return None


def _part_name(dialogue_id: str) -> str:
    safe = ''.join(c if c.isalnum() or c in '-_' else '_' for c in dialogue_id)[:40]
    return f'{safe}-{hashlib.sha1(dialogue_id.encode()).hexdigest()[:10]}.npz'


def _write_part(path: str, dialogue: Dialogue, feats: Mapping[str, np.ndarray]) -> None:
    """Write one finished dialogue atomically (temp file + rename)."""
    arrays = {f'feat_{m}': np.asarray(x, dtype=np.float32) for m, x in feats.items()}
    arrays['utterance_ids'] = np.asarray([u.utterance_id for u in dialogue.utterances])
    arrays['dialogue_id'] = np.asarray(dialogue.dialogue_id)
    fd, tmp = tempfile.mkstemp(prefix='.part.', suffix='.tmp', dir=os.path.dirname(path))
    try:
        with os.fdopen(fd, 'wb') as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _read_part(path: str, dialogue: Dialogue,
               modalities: Sequence[str]) -> Optional[Dict[str, np.ndarray]]:
    """A finished dialogue's features, or None if the part is absent or unusable."""
    if not os.path.isfile(path):
        return None
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz['dialogue_id'][()]) != dialogue.dialogue_id:
                return None
            if [str(x) for x in npz['utterance_ids']] != \
                    [u.utterance_id for u in dialogue.utterances]:
                return None
            feats = {m: npz[f'feat_{m}'] for m in modalities}
    except (OSError, KeyError, ValueError, EOFError):
        return None
    if any(len(x) != len(dialogue) for x in feats.values()):
        return None
    return feats


def _build(cfg: Mapping[str, Any], default_type: str) -> Any:
    cfg = dict(cfg)
    cfg.setdefault('type', default_type)
    return FEATURE_EXTRACTORS.build(cfg)


def _jsonable(obj: Any) -> Any:
    """A JSON-comparable description of a config (objects by their type name)."""
    if isinstance(obj, Mapping):
        return {str(k): _jsonable(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if obj is None or isinstance(obj, (str, int, float, bool)):
        return obj
    fp = getattr(obj, 'fingerprint', None)
    if callable(fp):
        return _jsonable(fp())
    return str(getattr(obj, 'name', type(obj).__name__))


def _with_defaults(cfg: Mapping[str, Any], default_type: str) -> Dict[str, Any]:
    """The config with the extractor's default arguments filled in, so that a setting
    given explicitly and the same setting left to its default compare equal."""
    out = dict(cfg)
    cls = FEATURE_EXTRACTORS.get(out.get('type', default_type))
    if cls is None:
        return out
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name != 'self' and param.default is not inspect.Parameter.empty:
            out.setdefault(name, param.default)
    return out


def _semantic(cfg: Mapping[str, Any]) -> Any:
    """The settings that change the features (not device or batch size)."""
    return _jsonable({k: v for k, v in cfg.items() if k not in ('device', 'batch_size')})


# ------------------------------------------------------------------------------ main
def extract_features(out: str,
                     tables: Sequence[Union[TableSpec, Mapping[str, Any]]],
                     modalities: Union[str, Sequence[str]] = 'auto',
                     text: Optional[Mapping[str, Any]] = None,
                     audio: Optional[Mapping[str, Any]] = None,
                     visual: Optional[Mapping[str, Any]] = None,
                     finetune: Optional[Mapping[str, Any]] = None,
                     classes: Optional[Sequence[str]] = None,
                     max_speakers: Optional[int] = 9,
                     val_fraction: float = 0.1,
                     split_seed: int = 0,
                     standardize: bool = True,
                     on_missing_media: str = 'error',
                     chunk_size: int = 64,
                     keep_parts: bool = False,
                     parts_dir: Optional[str] = None,
                     overwrite: bool = False,
                     fix_mojibake: bool = True,
                     progress: bool = True,
                     log: Callable[[str], None] = print) -> Dict[str, Any]:
    """Extract features of conversation tables into a native feature file.

    Args:
        out: the output ``.npz``; parts go to ``<out>.parts/``.
        tables: :class:`TableSpec` objects (or dicts of their fields).
        modalities: ``'auto'`` (text if there is a text column; audio and visual where
            every utterance has a usable media file) or a subset of
            ``('text', 'audio', 'visual')``. A modality without media is left out of the
            file, never zero-filled; asking for it is an error.
        text: :class:`~vega_mm.features.text.TextFeatureExtractor` arguments.
        audio: :class:`~vega_mm.features.audio.OpenSmileExtractor` arguments.
        visual: :class:`~vega_mm.features.visual.VisualFeatureExtractor` arguments
            (``encoder`` is required).
        finetune: ``dict(epochs=N, lr=..., batch_size=..., max_length=...)`` to fine-tune
            the text encoder on the *training split's* labelled utterances first
            (``epochs=0``/None: no fine-tuning).
        classes, max_speakers, val_fraction, split_seed: see :func:`load_tables`.
        standardize: standardise each modality with training-split statistics (stored
            in ``extra.feature_stats``); False keeps the raw features.
        on_missing_media: ``'error'`` (stop, naming the row) or ``'skip'`` (leave the
            whole dialogue out and report it) for missing, unreadable or too short media.
        chunk_size: dialogues encoded together (text batches span a chunk).
        keep_parts: keep the parts after assembling (re-assembling, e.g. without
            standardisation, is then instant).
        parts_dir: where the parts go (default ``<out>.parts``); outputs that differ
            only in ``standardize``/``max_speakers`` can share one.
        overwrite: discard parts made with other settings instead of failing.

    Returns:
        A summary: ``out``, ``modalities``, ``feature_dims``, dialogue and utterance
        counts per split, ``skipped`` (list of ``{dialogue_id, reason}``), ``computed``
        (dialogues extracted by this call) and ``reused`` (found in the parts).
    """
    if on_missing_media not in ('error', 'skip'):
        raise ValueError(f"on_missing_media must be 'error' or 'skip', got "
                         f'{on_missing_media!r}')
    specs = [t if isinstance(t, TableSpec) else TableSpec(**t) for t in tables]
    conv = load_tables(specs, classes, val_fraction, split_seed, max_speakers, fix_mojibake,
                       log)
    if isinstance(modalities, str):
        if modalities != 'auto':
            modalities = (modalities, )
        else:
            modalities = _auto_modalities(conv)
            log(f'modalities (auto): {list(modalities)}')
    modalities = tuple(m for m in MODALITIES if m in modalities)
    if not modalities:
        raise ValueError('no modality to extract (no text column and no media)')
    _check_modalities(conv, modalities)
    text_cfg = _with_defaults(text or {}, 'TextFeatureExtractor')
    text_cfg['model'] = resolve_text_model(text_cfg.get('model'))
    audio_cfg = _with_defaults(audio or {}, 'OpenSmileExtractor')
    visual_cfg = _with_defaults(visual or {}, 'VisualFeatureExtractor')
    if 'visual' in modalities and 'encoder' not in visual_cfg:
        raise ValueError("visual features need an image encoder: visual=dict(encoder=...) "
                         "(the anchor builder's, e.g. dict(type='OpenCLIPImageEncoder', ...))")
    ft_cfg = dict(finetune or {})
    do_finetune = 'text' in modalities and int(ft_cfg.get('epochs') or 0) > 0

    # Parts folder and its manifest (the settings the parts were made with).
    out = os.fspath(out)
    parts = parts_dir or out + '.parts'
    manifest = dict(
        version=_MANIFEST_VERSION, modalities=list(modalities),
        tables=[{k: v for k, v in t.items() if k != 'rows'} for t in conv.tables],
        text=_semantic(text_cfg) if 'text' in modalities else None,
        finetune=_jsonable(ft_cfg) if do_finetune else None,
        audio=_semantic(audio_cfg) if 'audio' in modalities else None,
        visual=_semantic(visual_cfg) if 'visual' in modalities else None,
        # the split decides what fine-tuning sees
        val_rule=conv.val_rule if do_finetune else None, classes=list(conv.classes))
    manifest_path = os.path.join(parts, 'manifest.json')
    if os.path.isdir(parts):
        old = None
        if os.path.isfile(manifest_path):
            with open(manifest_path) as f:
                old = json.load(f)
        if old != json.loads(json.dumps(manifest)):
            if not overwrite:
                diff = sorted(k for k in manifest if old is None or old.get(k) != manifest[k])
                raise RuntimeError(
                    f'{parts} holds parts made with other settings or tables (differs in: '
                    f'{diff}); pass overwrite=True (--overwrite) to start over, or write '
                    'to another output')
            shutil.rmtree(parts)
    os.makedirs(parts, exist_ok=True)
    with open(manifest_path + '.tmp', 'w') as f:
        json.dump(manifest, f, indent=1)
    os.replace(manifest_path + '.tmp', manifest_path)

    # Pre-flight: missing media files, before any expensive work.
    skipped: Dict[str, str] = {}
    if any(m in modalities for m in ('audio', 'visual')):
        for d in conv.dialogues:
            reason = _missing_media(d)
            if reason is None:
                continue
            if on_missing_media == 'error':
                raise MediaError(reason + " (use on_missing_media='skip' / "
                                 '--on-missing-media skip to leave such dialogues out)')
            skipped[d.dialogue_id] = reason
        if skipped:
            log(f'skipping {len(skipped)} dialogue(s) with missing media, e.g. '
                f'{next(iter(skipped.values()))}')

    todo = [d for d in conv.dialogues if d.dialogue_id not in skipped]
    pending = [d for d in todo
               if _read_part(os.path.join(parts, _part_name(d.dialogue_id)), d,
                             modalities) is None]
    reused = len(todo) - len(pending)
    if reused:
        log(f'resuming: {reused} of {len(todo)} dialogue(s) already extracted')

    computed = 0
    extractors: Dict[str, Any] = {}
    fingerprints: Dict[str, Any] = {}
    if pending or not os.path.isfile(os.path.join(parts, 'extractors.json')):
        if do_finetune:
            ft_dir = os.path.join(parts, 'text_encoder_finetuned')
            if not os.path.isfile(os.path.join(ft_dir, 'vega_mm_finetune.json')):
                train_utts = [u for d in conv.dialogues if d.split == 'train'
                              for u in d.utterances]
                train_labels = np.concatenate(
                    [conv.labels[d.dialogue_id] for d in conv.dialogues
                     if d.split == 'train'])
                log(f'fine-tuning {text_cfg["model"]} on {len(train_utts)} training '
                    'utterances')
                kw = {k: v for k, v in ft_cfg.items()
                      if k in ('epochs', 'lr', 'batch_size', 'max_length',
                               'class_weighted', 'seed')}
                finetune_text_encoder(
                    text_cfg['model'], [u.text for u in train_utts], train_labels,
                    len(conv.classes), ft_dir, pooling=text_cfg.get('pooling', 'mean'),
                    progress=progress, **kw)
                with open(os.path.join(ft_dir, 'vega_mm_finetune.json'), 'w') as f:
                    json.dump(dict(base_model=text_cfg['model'], **_jsonable(ft_cfg),
                                   train_utterances=len(train_utts)), f)
            text_cfg = dict(text_cfg, model=ft_dir)
        if 'text' in modalities:
            extractors['text'] = _build(text_cfg, 'TextFeatureExtractor')
        if 'audio' in modalities:
            extractors['audio'] = _build(audio_cfg, 'OpenSmileExtractor')
        if 'visual' in modalities:
            extractors['visual'] = _build(visual_cfg, 'VisualFeatureExtractor')
        fingerprints = {m: e.fingerprint() for m, e in extractors.items()}
        if do_finetune:
            fingerprints['text']['finetuned_from'] = manifest['text']['model']
            fingerprints['text']['finetune'] = manifest['finetune']
        with open(os.path.join(parts, 'extractors.json'), 'w') as f:
            json.dump(fingerprints, f, indent=1)

    if pending:
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=len(todo), initial=reused, desc='extract', unit='dialogue')
        try:
            for i in range(0, len(pending), chunk_size):
                chunk = pending[i:i + chunk_size]
                feats: Dict[str, Dict[str, np.ndarray]] = {d.dialogue_id: {} for d in chunk}
                if 'text' in extractors:
                    utts = [u for d in chunk for u in d.utterances]
                    emb = extractors['text'].extract(utts)
                    pos = 0
                    for d in chunk:
                        feats[d.dialogue_id]['text'] = emb[pos:pos + len(d)]
                        pos += len(d)
                for d in chunk:
                    try:
                        for m in ('audio', 'visual'):
                            if m in extractors:
                                feats[d.dialogue_id][m] = extractors[m].extract(d.utterances)
                    except MediaError as exc:
                        if on_missing_media == 'error':
                            raise
                        skipped[d.dialogue_id] = str(exc)
                        log(f'skipping dialogue {d.dialogue_id!r}: {exc}')
                    else:
                        _write_part(os.path.join(parts, _part_name(d.dialogue_id)), d,
                                    feats[d.dialogue_id])
                        computed += 1
                    if bar is not None:
                        bar.update(1)
        finally:
            if bar is not None:
                bar.close()
    if not fingerprints:
        with open(os.path.join(parts, 'extractors.json')) as f:
            fingerprints = json.load(f)

    summary = _assemble(out, conv, modalities, parts, skipped, fingerprints, standardize,
                        log)
    summary.update(computed=computed, reused=reused)
    if 'visual' in extractors and extractors['visual'].frames_seen:
        v = extractors['visual']
        log(f'faces found in {v.faces_found} of {v.frames_seen} frames')
    if not keep_parts:
        shutil.rmtree(parts, ignore_errors=True)
    return summary


def _assemble(out: str, conv: ConversationTables, modalities: Sequence[str], parts: str,
              skipped: Mapping[str, str], fingerprints: Mapping[str, Any],
              standardize: bool, log: Callable[[str], None]) -> Dict[str, Any]:
    """Read every part, standardise with training statistics, write the output file."""
    from vega_mm.datasets.formats import save_native

    kept = [d for d in conv.dialogues if d.dialogue_id not in skipped]
    if not kept:
        raise RuntimeError('every dialogue was skipped; nothing to write')
    feats: Dict[str, Dict[str, np.ndarray]] = {}
    for d in kept:
        f = _read_part(os.path.join(parts, _part_name(d.dialogue_id)), d, modalities)
        if f is None:
            raise RuntimeError(f'{parts}: the part of dialogue {d.dialogue_id!r} is missing '
                               'or does not match the table')
        feats[d.dialogue_id] = f
    extra: Dict[str, Any] = dict(
        created_by='vega_mm.features.extract_features',
        tables=conv.tables, extractors=_jsonable(fingerprints), standardized=standardize,
        max_speakers=len(conv.speaker_names), val_rule=conv.val_rule,
        text_repairs=conv.repairs,
        skipped=[dict(dialogue_id=k, reason=v) for k, v in skipped.items()])
    if standardize:
        train = [feats[d.dialogue_id] for d in kept if d.split == 'train']
        if not train:
            raise RuntimeError('no training dialogue left to compute the standardisation '
                               'statistics from')
        stats = compute_feature_stats(
            {m: np.concatenate([f[m] for f in train]) for m in modalities}, split='train')
        extra['feature_stats'] = stats
        for f in feats.values():
            for m in modalities:
                f[m] = apply_feature_stats(f[m], stats[m], m)
    dialogues = [dict(dialogue_id=d.dialogue_id, features=feats[d.dialogue_id],
                      speakers=conv.speakers(d), labels=conv.labels[d.dialogue_id],
                      utterance_ids=[u.utterance_id for u in d.utterances]) for d in kept]
    splits = {s: [d.dialogue_id for d in kept if d.split == s] for s in SPLIT_ORDER}
    save_native(out, dialogues, conv.classes, splits, speaker_names=conv.speaker_names,
                extra=extra)
    counts = {s: dict(dialogues=len(ids),
                      utterances=int(sum(len(feats[i][modalities[0]]) for i in ids)))
              for s, ids in splits.items()}
    dims = {m: int(next(iter(feats.values()))[m].shape[1]) for m in modalities}
    log(f'wrote {out}: {dims}, ' + ', '.join(
        f'{s} {c["dialogues"]} dialogues / {c["utterances"]} utterances'
        for s, c in counts.items()) + (f', {len(skipped)} skipped' if skipped else ''))
    return dict(out=out, modalities=list(modalities), feature_dims=dims, counts=counts,
                skipped=[dict(dialogue_id=k, reason=v) for k, v in skipped.items()],
                standardized=standardize, classes=list(conv.classes),
                speaker_names=list(conv.speaker_names))

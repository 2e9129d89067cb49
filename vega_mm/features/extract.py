"""From conversation tables to a native feature file, resumable.

:func:`extract_features` reads the tables (:mod:`vega_mm.conversations.corpus`),
checks every row and media file first, then extracts the requested modalities dialogue
by dialogue with the extractors registered for them (:mod:`vega_mm.features.base`).
Each finished dialogue is written atomically to the parts folder
(:class:`~vega_mm.features.parts.PartStore`, default ``<out>.parts/``); an interrupted
run started again skips the dialogues already there, provided the settings and tables
are the same.  When every dialogue is done, the parts are standardised with
training-split statistics and assembled into the output file (atomic rename), see
``docs/internals.md``.  With ``shard='I/N'`` a process extracts only its share of the
dialogues and writes no output (several may run at once on one parts folder);
``merge=True`` then assembles the output from the parts alone.
"""
import contextlib
import dataclasses
import json
import os
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from vega_mm.conversations import ConversationTables, Dialogue, TableSpec, load_tables
from vega_mm.speech.media import MediaError
from vega_mm.structures.meta import SPLITS
from vega_mm.utils.io import atomic_write_json
from vega_mm.utils.shards import ShardSpec, parse_shard, shard_of
from .base import (BaseFeatureExtractor, build_extractor, dialogue_features, extractor_class,
                   jsonable, registered_modalities)
from .parts import MANIFEST_VERSION, PartStore
from .standardize import apply_feature_stats, compute_feature_stats
from .text import context_pairs
from .text_finetune import check_finetune_settings, finetune_text_encoder

__all__ = ['extract_features', 'MissingPartsError', 'interrupted_message',
           'check_distinct_tables']

Log = Callable[[str], None]


class MissingPartsError(RuntimeError):
    """A merge found dialogues without a part: their shards have not finished."""


#: ``finetune`` keys passed on to :func:`~vega_mm.features.text.finetune_text_encoder`.
_FINETUNE_KEYS = ('epochs', 'lr', 'batch_size', 'max_length', 'class_weighted', 'seed',
                  'patience')


# ----------------------------------------------------------------- settings and checks
def _raw_settings(extractors: Optional[Mapping[str, Any]],
                  **by_keyword: Optional[Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Modality -> the extractor config the caller gave (``text=`` etc. or
    ``extractors=``)."""
    out = {m: dict(cfg) for m, cfg in (extractors or {}).items()}
    for m, cfg in by_keyword.items():
        if cfg is None:
            continue
        if m in out:
            raise ValueError(f'{m} extractor settings given twice ({m}= and extractors=)')
        out[m] = dict(cfg)
    return out


def _select_modalities(conv: ConversationTables, modalities: Union[str, Sequence[str]],
                       raw: Mapping[str, Mapping[str, Any]], log: Log) -> Tuple[str, ...]:
    """The modalities to extract, in canonical order, checked against the tables."""
    known = registered_modalities()
    utts = [u for d in conv.dialogues for u in d.utterances]
    if isinstance(modalities, str):
        if modalities != 'auto':
            modalities = (modalities, )
        else:
            modalities = tuple(m for m in known
                               if extractor_class(m, raw.get(m)).usable(utts))
            log(f'modalities (auto): {list(modalities)}')
    unknown = [m for m in modalities if m not in known]
    if unknown:
        raise ValueError(f'unknown modality {unknown}; expected some of {known}')
    modalities = tuple(m for m in known if m in modalities)
    if not modalities:
        raise ValueError('no modality to extract (no text column and no media)')
    for m in modalities:
        extractor_class(m, raw.get(m)).check_utterances(utts)
    return modalities


def _settings(modalities: Sequence[str],
              raw: Mapping[str, Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """Modality -> extractor config with the defaults filled in, checked."""
    settings = {}
    for m in modalities:
        cls = extractor_class(m, raw.get(m))
        settings[m] = cls.settings(raw.get(m) or {})
        cls.check_settings(settings[m])
    return settings


def _manifest(conv: ConversationTables, modalities: Sequence[str],
              settings: Mapping[str, Mapping[str, Any]],
              finetune: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """What the parts depend on: tables, classes, and the settings that change features
    (not device or batch size)."""
    manifest: Dict[str, Any] = dict(
        version=MANIFEST_VERSION, modalities=list(modalities),
        tables=[{k: v for k, v in t.items() if k != 'rows'} for t in conv.tables])
    for m in registered_modalities():
        cfg = settings.get(m)
        manifest[m] = None if cfg is None else jsonable(
            {k: v for k, v in cfg.items()
             if k not in extractor_class(m, cfg).runtime_settings})
    manifest.update(
        finetune=None if finetune is None else jsonable(finetune),
        # the split decides what fine-tuning sees
        val_rule=conv.val_rule if finetune is not None else None,
        classes=list(conv.classes))
    return manifest


def _missing_media(conv: ConversationTables, on_missing_media: str,
                   log: Log) -> Dict[str, str]:
    """Dialogue id -> reason, for dialogues with a media file that does not exist
    (checked before any expensive work)."""
    skipped: Dict[str, str] = {}
    for d in conv.dialogues:
        reason = next((f'{u.source}: media file {u.media!r} does not exist'
                       for u in d.utterances
                       if u.media is not None and not os.path.isfile(u.media)), None)
        if reason is None:
            continue
        if on_missing_media == 'error':
            raise MediaError(reason + " (use on_missing_media='skip' / "
                             '--on-missing-media skip to leave such dialogues out)')
        skipped[d.dialogue_id] = reason
    if skipped:
        log(f'skipping {len(skipped)} dialogue(s) with missing media, e.g. '
            f'{next(iter(skipped.values()))}')
    return skipped


# ------------------------------------------------------------------------ extraction
def _finetune_text(conv: ConversationTables, text_cfg: Mapping[str, Any],
                   finetune: Mapping[str, Any], store: PartStore, progress: bool,
                   log: Log) -> Dict[str, Any]:
    """Fine-tune the text encoder on the training split's utterances (once: kept in the
    parts folder); returns the text config pointing at the fine-tuned encoder."""
    ft_dir = os.path.join(store.folder, 'text_encoder_finetuned')
    done = os.path.join(ft_dir, 'vega_mm_finetune.json')
    if not os.path.isfile(done):
        data = {split: _finetune_data(conv, split, text_cfg) for split in ('train', 'val')}
        log(f'fine-tuning {text_cfg["model"]} on {len(data["train"]["texts"])} training '
            f'utterances' + (f', the epoch chosen on {len(data["val"]["texts"])} validation '
                             'ones' if data['val']['texts'] else ''))
        info = finetune_text_encoder(
            text_cfg['model'], data['train']['texts'], data['train']['labels'],
            len(conv.classes), ft_dir, pooling=text_cfg.get('pooling', 'mean'),
            progress=progress, contexts=data['train'].get('contexts'),
            val=data['val'] if data['val']['texts'] else None, log=log,
            **{k: v for k, v in finetune.items() if k in _FINETUNE_KEYS})
        if info['val_weighted_f1']:
            log('fine-tuning: validation weighted F1 per epoch '
                + ', '.join(f'{v:.2f}' for v in info['val_weighted_f1'])
                + f'; kept epoch {info["best_epoch"]}')
        atomic_write_json(done, dict(base_model=text_cfg['model'], **jsonable(finetune),
                                     train_utterances=len(data['train']['texts']),
                                     **{k: v for k, v in info.items() if k != 'model_dir'}))
    return dict(text_cfg, model=ft_dir)


def _finetune_result(text_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """What the fine-tuning of the encoder in ``text_cfg['model']`` chose: the epochs it
    ran, the epoch kept and the validation weighted F1 per epoch."""
    with open(os.path.join(text_cfg['model'], 'vega_mm_finetune.json')) as f:
        done = json.load(f)
    return {k: done[k] for k in ('epochs_run', 'best_epoch', 'val_weighted_f1') if k in done}


def _finetune_data(conv: ConversationTables, split: str,
                   text_cfg: Mapping[str, Any]) -> Dict[str, Any]:
    """The texts, labels (and with ``context`` the contexts) of a split's utterances."""
    dialogues = [d for d in conv.dialogues if d.split == split]
    utts = [u for d in dialogues for u in d.utterances]
    labels = np.concatenate([conv.labels[d.dialogue_id] for d in dialogues]) if dialogues \
        else np.zeros(0, dtype=np.int64)
    out: Dict[str, Any] = dict(texts=[u.text for u in utts], labels=labels)
    if text_cfg.get('context'):
        out['texts'], out['contexts'] = context_pairs(
            utts, int(text_cfg['context']), text_cfg.get('speaker_tags', True),
            text_cfg.get('empty_text', ''))
    return out


def _extract_chunk(chunk: Sequence[Dialogue], extractors: Mapping[str, BaseFeatureExtractor],
                   store: PartStore, skipped: Dict[str, str], on_missing_media: str,
                   log: Log, done: Callable[[], None]) -> int:
    """Extract a few dialogues (:func:`~vega_mm.features.base.dialogue_features`), storing
    each as soon as it is done; returns how many were stored."""
    def skip(d: Dialogue, exc: MediaError) -> None:
        skipped[d.dialogue_id] = str(exc)
        store.write_skipped(d, str(exc))  # a later merge of shards leaves it out too
        log(f'skipping dialogue {d.dialogue_id!r}: {exc}')

    def stored(d: Dialogue, feats: Optional[Dict[str, np.ndarray]]) -> None:
        if feats is not None:
            store.write(d, feats)
        done()

    feats = dialogue_features(chunk, extractors, on_media_error=None if on_missing_media ==
                              'error' else skip, on_done=stored)
    return sum(f is not None for f in feats)


def _extract_pending(pending: Sequence[Dialogue],
                     extractors: Mapping[str, BaseFeatureExtractor], store: PartStore,
                     skipped: Dict[str, str], on_missing_media: str, chunk_size: int,
                     total: int, reused: int, progress: bool, log: Log) -> int:
    """Extract the dialogues not in the store yet, ``chunk_size`` at a time."""
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=total, initial=reused, desc='extract', unit='dialogue')
    computed = 0
    try:
        for i in range(0, len(pending), chunk_size):
            computed += _extract_chunk(pending[i:i + chunk_size], extractors, store, skipped,
                                       on_missing_media, log,
                                       (lambda: bar.update(1)) if bar else (lambda: None))
    finally:
        if bar is not None:
            bar.close()
    return computed


# -------------------------------------------------------------------------- assembly
def _assemble(out: str, conv: ConversationTables, modalities: Sequence[str],
              store: PartStore, skipped: Mapping[str, str], configs: Mapping[str, Any],
              standardize: bool, log: Log) -> Dict[str, Any]:
    """Read every part, standardise with training statistics, write the output file."""
    from vega_mm.datasets.formats import save_native

    kept = [d for d in conv.dialogues if d.dialogue_id not in skipped]
    if not kept:
        raise RuntimeError('every dialogue was skipped; nothing to write')
    feats: Dict[str, Dict[str, np.ndarray]] = {}
    for d in kept:
        f = store.read(d, modalities)
        if f is None:
            raise RuntimeError(f'{store.folder}: the part of dialogue {d.dialogue_id!r} is '
                               'missing or does not match the table')
        feats[d.dialogue_id] = f
    skipped_list = [dict(dialogue_id=k, reason=v) for k, v in skipped.items()]
    extra: Dict[str, Any] = dict(
        created_by='vega_mm.features.extract_features',
        tables=conv.tables, extractors=jsonable(configs), standardized=standardize,
        max_speakers=len(conv.speaker_names), val_rule=conv.val_rule,
        text_repairs=conv.repairs, skipped=skipped_list)
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
    if conv.sentiments is not None:  # a table's sentiment column (MELD's Sentiment)
        for item in dialogues:
            item['sentiments'] = conv.sentiments[item['dialogue_id']]
    splits = {s: [d.dialogue_id for d in kept if d.split == s] for s in SPLITS}
    save_native(out, dialogues, conv.classes, splits, speaker_names=conv.speaker_names,
                extra=extra)
    counts = {s: dict(dialogues=len(ids),
                      utterances=int(sum(len(feats[i][modalities[0]]) for i in ids)))
              for s, ids in splits.items()}
    dims = {m: int(next(iter(feats.values()))[m].shape[1]) for m in modalities}
    log(f'wrote {out}: {dims}, ' + ('with sentiments, ' if conv.sentiments is not None
                                    else '') + ', '.join(
        f'{s} {c["dialogues"]} dialogues / {c["utterances"]} utterances'
        for s, c in counts.items()) + (f', {len(skipped)} skipped' if skipped else ''))
    return dict(out=out, modalities=list(modalities), feature_dims=dims, counts=counts,
                skipped=skipped_list, standardized=standardize, classes=list(conv.classes),
                speaker_names=list(conv.speaker_names),
                sentiments=conv.sentiments is not None)


# ------------------------------------------------------------------------- shards
def _check_shard(shard: Optional[ShardSpec], merge: bool,
                 overwrite: bool) -> Optional[Tuple[int, int]]:
    """The parsed shard, checked against the other options."""
    if shard is None:
        return None
    parsed = parse_shard(shard)
    if merge:
        raise ValueError('shard= and merge=True exclude each other: shards extract, the '
                         'merge assembles their parts')
    if overwrite:
        raise ValueError('overwrite=True (--overwrite) with a shard would delete the parts '
                         'of the shards running beside it; delete the parts folder once, '
                         'before starting the shards')
    return parsed


def _shard_summary(shard: Tuple[int, int], mine: Sequence[Dialogue], store: PartStore,
                   skipped: Mapping[str, str], modalities: Sequence[str],
                   log: Log) -> Dict[str, Any]:
    """What a shard did: its dialogues (``mine``) and those of them left out."""
    skipped_list = [dict(dialogue_id=d.dialogue_id, reason=skipped[d.dialogue_id])
                    for d in mine if d.dialogue_id in skipped]
    log(f'shard {shard[0]}/{shard[1]}: {len(mine) - len(skipped_list)} dialogue(s) in '
        f'{store.folder}' + (f', {len(skipped_list)} skipped' if skipped_list else '')
        + '; merge once every shard is done')
    return dict(shard=f'{shard[0]}/{shard[1]}', parts=store.folder, dialogues=len(mine),
                modalities=list(modalities), skipped=skipped_list)


def _merge(out: str, conv: ConversationTables, modalities: Sequence[str], store: PartStore,
           skipped: Dict[str, str], standardize: bool, log: Log) -> Dict[str, Any]:
    """Assemble the output from the parts of every dialogue (none is extracted)."""
    _, absent = store.gather([d for d in conv.dialogues if d.dialogue_id not in skipped],
                             modalities, note='skipped')
    missing = [key for key, reason in absent.items() if reason is None]
    # after the missing-media ones, in table order: as a single run lists them
    skipped.update((key, reason) for key, reason in absent.items() if reason is not None)
    if missing:
        raise MissingPartsError(
            f'{store.folder}: {len(missing)} of {len(conv.dialogues)} dialogue(s) have no '
            f'part yet, e.g. {missing[:5]}; finish (or run again: a shard resumes) the '
            'shards holding them, then merge again')
    if not store.has_extractor_configs():
        raise MissingPartsError(f'{store.folder}: no extractors.json (no shard has '
                                'extracted anything yet)')
    summary = _assemble(out, conv, modalities, store, skipped,
                        store.read_extractor_configs(), standardize, log)
    summary.update(computed=0, reused=len(conv.dialogues) - len(skipped))
    return summary


@contextlib.contextmanager
def _locked(path: str):
    """An exclusive lock on ``path`` (blocking): one process at a time does the work,
    the others then find it done."""
    import fcntl
    with open(path, 'a') as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _extractors(conv: ConversationTables, modalities: Sequence[str],
                settings: Dict[str, Dict[str, Any]], manifest: Mapping[str, Any],
                finetune: Optional[Mapping[str, Any]], store: PartStore, needed: bool,
                progress: bool, log: Log
                ) -> Tuple[Dict[str, BaseFeatureExtractor], Dict[str, Any]]:
    """The extractors (built only when dialogues remain to be extracted, or their records
    are not stored yet) and their config records."""
    if not needed and store.has_extractor_configs():
        return {}, store.read_extractor_configs()
    if finetune is not None:  # shards starting together fine-tune once, the others wait
        with _locked(os.path.join(store.folder, 'finetune.lock')):
            settings['text'] = _finetune_text(conv, settings['text'], finetune, store,
                                              progress, log)
    built = {m: build_extractor(m, settings[m]) for m in modalities}
    configs = {m: e.config() for m, e in built.items()}
    if finetune is not None:
        configs['text'].update(finetuned_from=manifest['text']['model'],
                               finetune=dict(manifest['finetune'],
                                             **_finetune_result(settings['text'])))
    store.write_extractor_configs(configs)
    return built, configs


# ------------------------------------------------------------------------------ main
@dataclasses.dataclass
class _Job:
    """What an extraction works on, settled before any work."""
    out: str
    conv: ConversationTables
    modalities: Tuple[str, ...]
    settings: Dict[str, Dict[str, Any]]
    finetune: Optional[Dict[str, Any]]  # None: no fine-tuning
    manifest: Dict[str, Any]
    store: PartStore
    log: Log


def _job(out: str, conv: ConversationTables, modalities: Union[str, Sequence[str]],
         raw: Dict[str, Dict[str, Any]], finetune: Optional[Mapping[str, Any]],
         parts_dir: Optional[str], log: Log) -> _Job:
    """The modalities, the extractors' settings and the manifest of an extraction,
    checked."""
    modalities = _select_modalities(conv, modalities, raw, log)
    settings = _settings(modalities, raw)
    ft_cfg = dict(finetune or {})
    if ft_cfg:
        check_finetune_settings(**ft_cfg)
    if not ('text' in modalities and int(ft_cfg.get('epochs') or 0) > 0):
        ft_cfg = None
    return _Job(out, conv, modalities, settings, ft_cfg,
                _manifest(conv, modalities, settings, ft_cfg),
                PartStore(parts_dir or out + '.parts'), log)


def _run(job: _Job, options: Dict[str, Any], shard: Optional[Tuple[int, int]],
         merge: bool, overwrite: bool, keep_parts: bool) -> Dict[str, Any]:
    """Open the parts folder, then merge or extract (see :func:`extract_features`)."""
    store = job.store
    if merge and not os.path.isfile(store.manifest_path):
        raise FileNotFoundError(f'{store.folder}: no parts to merge (no manifest.json); run '
                                'the shards first (--shard I/N)')
    fresh = not os.path.isdir(store.folder)
    store.open(job.manifest, overwrite)
    try:
        skipped: Dict[str, str] = {}
        if any(extractor_class(m, job.settings[m]).needs_media for m in job.modalities):
            skipped = _missing_media(job.conv, options['on_missing_media'], job.log)
        if merge:
            summary = _merge(job.out, job.conv, job.modalities, store, skipped,
                             options['standardize'], job.log)
        else:
            summary = _extract(job, options, shard, skipped)
        if not keep_parts and shard is None:
            store.remove()
        return summary
    except BaseException:
        # a run that fails before its first part (a bad option, a model that cannot be
        # loaded) leaves no folder behind that would refuse the corrected rerun
        if fresh and shard is None:
            store.discard_if_unused()
        raise


def _extract(job: _Job, options: Dict[str, Any], shard: Optional[Tuple[int, int]],
             skipped: Dict[str, str]) -> Dict[str, Any]:
    """Extract the dialogues of this run (a shard's, or all) not stored yet; then the
    shard's summary, or the output file."""
    store, modalities, log = job.store, job.modalities, job.log
    # shards are drawn from every dialogue, so that media appearing between the starts of
    # two shards cannot move a dialogue from one shard to another
    mine = shard_of(job.conv.dialogues, shard, key=lambda d: d.dialogue_id)
    if shard is not None:  # left out by an earlier run of this shard: done
        skipped.update((d.dialogue_id, r) for d in mine if d.dialogue_id not in skipped
                       for r in [store.read_skipped(d)] if r is not None)
    todo = [d for d in mine if d.dialogue_id not in skipped]
    pending = [d for d in todo if store.read(d, modalities) is None]
    reused = len(todo) - len(pending)
    if reused:
        log(f'resuming: {reused} of {len(todo)} dialogue(s) already extracted')
    built, configs = _extractors(job.conv, modalities, job.settings, job.manifest,
                                 job.finetune, store, bool(pending), options['progress'], log)
    computed = 0
    if pending:
        computed = _extract_pending(pending, built, store, skipped,
                                    options['on_missing_media'], options['chunk_size'],
                                    len(todo), reused, options['progress'], log)
    if shard is not None:
        summary = _shard_summary(shard, mine, store, skipped, modalities, log)
    else:
        summary = _assemble(job.out, job.conv, modalities, store, skipped, configs,
                            options['standardize'], log)
    summary.update(computed=computed, reused=reused)
    for line in filter(None, (ext.report() for ext in built.values())):
        log(line)
    return summary


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
                     log: Log = print,
                     extractors: Optional[Mapping[str, Mapping[str, Any]]] = None,
                     shard: Optional[ShardSpec] = None,
                     merge: bool = False,
                     ) -> Dict[str, Any]:
    """Extract features of conversation tables into a native feature file.

    Args:
        out: the output ``.npz``; parts go to ``<out>.parts/``.
        tables: :class:`TableSpec` objects (or dicts of their fields).
        modalities: ``'auto'`` (text if there is a text column; audio and visual where
            every utterance has a usable media file) or a subset of
            ``('text', 'audio', 'visual')``; a modality without media is an error.
        text, audio, visual: the arguments of the modality's extractor
            (:class:`~vega_mm.features.text.TextFeatureExtractor`; openSMILE's
            :class:`~vega_mm.features.audio.OpenSmileExtractor`, or ``type=
            'WhisperAudioExtractor'``; :class:`~vega_mm.features.visual.VisualFeatureExtractor`).
        finetune: ``dict(epochs=N, lr=..., batch_size=..., max_length=...)`` to fine-tune
            the text encoder on the *training split's* labelled utterances first
            (``epochs=0``/None: no fine-tuning).
        classes, max_speakers, val_fraction, split_seed: see
            :func:`~vega_mm.conversations.corpus.load_tables`.
        standardize: standardise each modality with training-split statistics (stored
            in ``extra.feature_stats``); False keeps the raw features.
        on_missing_media: ``'error'`` (stop, naming the row) or ``'skip'`` (leave the
            whole dialogue out and report it) for missing, unreadable or too short media.
        chunk_size: dialogues encoded together (text batches span a chunk).
        keep_parts: keep the parts after assembling (re-assembling is then instant).
        parts_dir: where the parts go (default ``<out>.parts``).
        overwrite: discard parts made with other settings instead of failing.
        extractors: modality -> extractor config (``type`` defaults to the modality's
            registered one), for any modality (``text=`` etc. are shorthands).
        shard: ``'I/N'`` or ``(I, N)``: extract only shard ``I`` of ``N`` of the
            dialogues (:func:`~vega_mm.utils.shards.shard_of`) into the parts folder,
            writing no output; shards of one folder may run at once (not ``overwrite``).
        merge: write the output from the parts of finished shards only
            (:class:`MissingPartsError` while a part is missing).

    Returns:
        A summary: ``out``, ``modalities``, ``feature_dims``, dialogue and utterance
        counts per split, ``skipped`` (list of ``{dialogue_id, reason}``), ``sentiments``
        (whether the file carries the tables' sentiment column), ``computed``
        (dialogues extracted by this call) and ``reused`` (found in the parts).  With
        ``shard``: ``shard``, ``parts``, ``dialogues`` (of the shard), ``modalities``,
        ``skipped``, ``computed`` and ``reused``.
    """
    if on_missing_media not in ('error', 'skip'):
        raise ValueError(f"on_missing_media must be 'error' or 'skip', got "
                         f'{on_missing_media!r}')
    shard = _check_shard(shard, merge, overwrite)
    specs = [t if isinstance(t, TableSpec) else TableSpec(**t) for t in tables]
    check_distinct_tables(specs)
    conv = load_tables(specs, classes, val_fraction, split_seed, max_speakers, fix_mojibake,
                       log)
    job = _job(os.fspath(out), conv, modalities,
               _raw_settings(extractors, text=text, audio=audio, visual=visual), finetune,
               parts_dir, log)
    return _run(job, dict(standardize=standardize, on_missing_media=on_missing_media,
                          chunk_size=chunk_size, progress=progress), shard, merge,
                overwrite, keep_parts)


def interrupted_message(out: str, argv: Sequence[str],
                        script: str = 'tools/extract_features.py') -> str:
    """What ``tools/extract_features.py`` says when Ctrl-C stops it: how many
    dialogues are kept in ``OUT.parts/`` and the command that resumes (the same one: a
    rerun reuses every finished dialogue and the fine-tuning state).

    Args:
        out: the OUT argument.
        argv: the tool's arguments (without the script).
        script: the tool's path as the user runs it.
    """
    import shlex
    parts = out + '.parts'
    kept = len([n for n in os.listdir(parts) if n.endswith('.npz')]) \
        if os.path.isdir(parts) else 0
    return (f'\ninterrupted: {kept} finished dialogue(s) kept in {parts}/; nothing was '
            f'written to {out}. Resume with the same command: '
            f'{shlex.join(["python", script, *argv])}')


def check_distinct_tables(specs: Sequence[TableSpec]) -> None:
    """Refuse one table file given for two splits (``--train T --test T``).

    The test split would then be the training data, and its metrics those of a model
    scored on what it was trained on: a result that cannot be trusted, so it is refused
    rather than warned about (a warning scrolls away; the numbers stay). A table to be
    labelled, not evaluated, is given once (``tools/infer.py`` takes it as it is).

    Raises:
        ValueError: naming the file and its two splits.
    """
    seen: Dict[str, str] = {}
    for spec in specs:
        key = os.path.realpath(spec.path)
        if key in seen and seen[key] != spec.split:
            raise ValueError(
                f'table {spec.path!r} is given for both the {seen[key]} and the {spec.split} '
                'split: the evaluation would score the model on the data it was trained on '
                '(or selected on). Give each split its own table (without --val, '
                'validation is held out from the training table)')
        seen.setdefault(key, spec.split)

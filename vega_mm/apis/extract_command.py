"""The command behind ``tools/extract_features.py``: everything after its argument
parsing (the tables, the extractors' settings, :func:`~vega_mm.features.extract_features`,
the summary and the exit code)."""
import argparse
import json
import os
import sys
import time
from typing import List, Optional, Sequence

__all__ = ['build_tables', 'run']


def _kv(items: List[str], what: str) -> dict:
    out = {}
    for item in items:
        if '=' not in item:
            raise SystemExit(f'{what}: expected KEY=VALUE, got {item!r}')
        k, v = item.split('=', 1)
        out[k.strip()] = v.strip()
    return out


def build_tables(args: argparse.Namespace) -> list:
    """TableSpec objects from the command line."""
    from vega_mm.conversations import TableSpec, meld_tables
    columns = _kv(args.column, '--column') or None
    specs = []
    if args.meld:
        try:
            specs += meld_tables(args.meld, _kv(args.meld_video, '--meld-video'), columns)
        except FileNotFoundError as exc:
            raise SystemExit(f'error: --meld {args.meld}: {exc}') from exc
    for split in ('train', 'val', 'test'):
        path = getattr(args, split)
        if path:
            specs.append(TableSpec(path, split, fmt=args.format,
                                   media_dir=getattr(args, f'{split}_media'),
                                   media_template=args.media_template, columns=columns))
    if not specs:
        raise SystemExit('give --meld DIR or --train TABLE (and --val/--test)')
    return specs


def _audio_settings(args: argparse.Namespace, threads: int) -> dict:
    """The audio extractor's config from the command line."""
    if args.audio_extractor == 'opensmile':
        return dict(feature_set=args.audio_feature_set)
    return dict(type='WhisperAudioExtractor', model=args.audio_model,
                pooling=args.audio_pooling, compute_type=args.audio_compute_type,
                batch_size=args.audio_batch_size, device=args.device or 'auto',
                cpu_threads=threads)


def run(args: argparse.Namespace, argv: Optional[Sequence[str]] = None) -> int:
    """``tools/extract_features.py`` after parsing (its options as ``args``); returns the
    exit code: 0 done, 1 parts of other settings or a merge with parts missing, 2 bad
    input (each reported on stderr as one line naming the file or option), 130 stopped by
    Ctrl-C (the finished dialogues are kept; ``argv``, the command's arguments, make the
    resume command it prints)."""
    from vega_mm.utils.cli import set_threads
    from vega_mm.utils.shards import parse_shard
    try:
        shard = parse_shard(args.shard) if args.shard is not None else None
    except ValueError as exc:
        print(f'error: --{exc}', file=sys.stderr)  # "--shard '5/4': the shard index ..."
        return 2
    threads = set_threads(args.threads, default=min(4, os.cpu_count() or 1))
    from vega_mm.features import extract_features
    from vega_mm.conversations import ConversationTableError
    from vega_mm.speech.media import MediaError
    from vega_mm.utils.io import check_output_file, refuse_existing_output
    modalities = 'auto' if args.modalities == ['auto'] else args.modalities
    visual = None
    if args.anchors is not None:
        from vega_mm.features.visual import visual_config_from_anchor_file
        visual = dict(visual_config_from_anchor_file(args.anchors), num_frames=args.num_frames)
    elif args.visual_encoder is not None:
        visual = dict(encoder=dict(args.visual_encoder),
                      face_detector=None if args.face_detector.lower() == 'none'
                      else args.face_detector,
                      num_frames=args.num_frames)
    start = time.time()
    try:
        check_output_file(args.out, 'output')  # before the extraction, not after it
        if shard is None:  # a shard writes no OUT
            refuse_existing_output(args.out, 'output', args.overwrite)
        summary = extract_features(
            args.out, build_tables(args), modalities=modalities,
            text=dict(model=args.text_model, pooling=args.text_pooling,
                      normalize=not args.no_text_normalize,
                      batch_size=args.text_batch_size, max_length=args.text_max_length,
                      device=args.device,
                      **(dict(context=args.text_context) if args.text_context else {})),
            audio=_audio_settings(args, threads),
            visual=visual,
            finetune=dict(epochs=args.finetune_epochs, lr=args.finetune_lr,
                          batch_size=args.finetune_batch_size,
                          max_length=args.finetune_max_length, seed=args.split_seed,
                          patience=args.finetune_patience)
            if args.finetune_epochs > 0 else None,
            classes=(args.classes.split(',') if ',' in args.classes else args.classes)
            if args.classes else None,
            max_speakers=args.max_speakers, val_fraction=args.val_fraction,
            split_seed=args.split_seed, standardize=not args.no_standardize,
            on_missing_media=args.on_missing_media, chunk_size=args.chunk_size,
            keep_parts=args.keep_parts, overwrite=args.overwrite,
            fix_mojibake=not args.no_fix_mojibake, progress=not args.quiet,
            shard=shard, merge=args.merge)
    except (ConversationTableError, MediaError, FileNotFoundError, ValueError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except RuntimeError as exc:  # parts of other settings; a merge with parts missing
        print(f'error: {exc}', file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        from vega_mm.features.extract import interrupted_message
        print(interrupted_message(args.out, list(argv if argv is not None else sys.argv[1:])),
              file=sys.stderr)
        return 130
    print(json.dumps(dict(summary, seconds=round(time.time() - start, 1),
                          skipped=len(summary['skipped'])), indent=1))
    return 0

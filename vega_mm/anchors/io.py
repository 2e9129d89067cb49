"""Reading and writing anchor files.

The format is the one published with VEGA (``*_anchor.pt``)::

    {'anchor_center': Tensor[C, D],
     'anchor_img_dict': {class_name: {'feature': Tensor[K, D], ...}, ...}}

to which vega_mm adds a ``'meta'`` dict (encoder, weights identity, class order, image
list, dimension).  Files are read with ``weights_only=True``: they hold tensors and plain
containers only, so a hostile file cannot run code.  Published files (no ``meta``) are
read unchanged: their class order is the order of ``anchor_img_dict``.
"""
import io
import os
import warnings
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import torch
import torch.nn.functional as F

from vega_mm.utils.io import atomic_write_bytes
from .classes import check_distinct_classes, resolve_class_order

__all__ = ['ANCHOR_FILE_FORMAT', 'CENTER_TOLERANCE', 'load_anchor_file', 'read_anchors',
           'save_anchor_file', 'exemplar_means']

#: ``meta['format']`` of the files vega_mm writes.
ANCHOR_FILE_FORMAT = 'vega_mm.anchors'


def _describe(value: Any) -> str:
    """How a message shows a value of the wrong kind."""
    if isinstance(value, (str, bytes)):
        text = repr(value)
        return f'{type(value).__name__} {text[:40]}' + ('...' if len(text) > 40 else '')
    if isinstance(value, torch.Tensor):
        return f'a {value.dtype} tensor of shape {tuple(value.shape)}'
    return type(value).__name__


def _as_float(value: Any, path: str, key: str, expected: str) -> torch.Tensor:
    """``value`` as a float32 tensor: a real-valued tensor, numpy array or (nested) list
    of numbers; anything else (strings, dicts, None, bool/complex tensors) is an error naming the
    file, the key and ``expected`` (a shape such as ``'[C, D]'``)."""
    tensor = None
    if isinstance(value, torch.Tensor):
        tensor = value
    elif isinstance(value, (list, tuple)) or type(value).__name__ == 'ndarray':
        try:
            tensor = torch.as_tensor(value)
        except (TypeError, ValueError, RuntimeError):
            tensor = None
    if tensor is None or tensor.dtype == torch.bool or tensor.is_complex():
        raise ValueError(f'anchor file {path!r}: {key} must be a float Tensor{expected}, '
                         f'got {_describe(value)}')
    return tensor.detach().float()


def _check_vectors(rows: torch.Tensor, path: str, key: str, name: str) -> None:
    """Every row of ``rows`` [K, D] must be a usable anchor direction: finite, with a
    norm that neither overflows nor underflows float32 (such a row normalises to an
    all-zero anchor, cosine 0 to everything)."""
    if not bool(torch.isfinite(rows).all()):
        row = int((~torch.isfinite(rows)).any(-1).nonzero()[0])
        raise ValueError(f'anchor file {path!r}: non-finite values (NaN or Inf) in {key} '
                         f'row {row} (class {name!r}); rebuild the anchors')
    where = f'anchor file {path!r}: {key} (class {name!r})'
    norms = rows.norm(dim=-1)
    bad = (~torch.isfinite(norms)) | (norms == 0)
    if bool(bad.any()):
        row = int(bad.nonzero()[0])
        peak = float(rows[row].abs().max())
        what = ('is all zeros' if peak == 0 else
                f'has a norm of {float(norms[row])} in float32 (largest |value| {peak:.3g})')
        raise ValueError(f'{where}: row {row} {what}, so it would normalise to an all-zero '
                         'anchor; expected finite vectors of non-zero, representable norm '
                         '(CLIP features have norm ~1); rebuild the anchors')


def exemplar_means(exemplars: Sequence[torch.Tensor]) -> torch.Tensor:
    """Class centres as published: the mean of each class's L2-normalised exemplars
    (not re-normalised), [C, D]."""
    return torch.stack([F.normalize(e.float(), dim=-1).mean(0) for e in exemplars])


def _read_dict(path: str) -> Dict[str, Any]:
    """The file's top-level dict, loaded with ``weights_only=True``."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f'anchor file {path!r} does not exist')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(
            f'anchor file {path!r} could not be read as a tensor-only torch file '
            f'({type(exc).__name__}: {exc})') from exc
    if not isinstance(obj, dict) or not ({'anchor_center', 'anchor_img_dict'} & set(obj)):
        raise ValueError(
            f"anchor file {path!r}: expected a dict with keys 'anchor_center' and "
            f"'anchor_img_dict', got {type(obj).__name__}"
            + (f' with keys {sorted(map(str, obj))}' if isinstance(obj, dict) else ''))
    meta = obj.get('meta')
    if meta is not None and not isinstance(meta, dict):
        raise ValueError(f"anchor file {path!r}: 'meta' must be a dict, got {_describe(meta)}")
    img_dict = obj.get('anchor_img_dict')
    if img_dict is not None and not isinstance(img_dict, dict):
        raise ValueError(f"anchor file {path!r}: 'anchor_img_dict' must be a dict "
                         f'{{class: {{"feature": Tensor[K, D]}}}}, got {_describe(img_dict)}')
    return obj


def _class_names(obj: Mapping[str, Any], path: str) -> List[str]:
    """``meta['class_names']``, else the keys of ``anchor_img_dict``; two names of one
    class (``happy`` and its alias ``joy``) are an error."""
    names = (obj.get('meta') or {}).get('class_names')
    if names is None:
        names = [str(n) for n in (obj.get('anchor_img_dict') or {})]
    elif not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise ValueError(f"anchor file {path!r}: meta['class_names'] must be a list of "
                         f'strings, got {_describe(names)}')
    names = list(names)
    check_distinct_classes(names, f'anchor file {path!r}')
    return names


def _exemplar_bank(entry: Any, name: str, path: str, dim: Optional[int]) -> torch.Tensor:
    """``anchor_img_dict[name]`` -> Tensor[K, D] (a bare tensor is accepted too)."""
    key = f'anchor_img_dict[{name!r}]'
    if isinstance(entry, dict):
        if 'feature' not in entry:
            raise ValueError(f"anchor file {path!r}: {key} has no 'feature' "
                             f'(keys {sorted(map(str, entry))})')
        entry, key = entry['feature'], f"{key}['feature']"
    shape = f'[K, {dim if dim is not None else "D"}]'
    feat = _as_float(entry, path, key, shape)
    if feat.ndim == 1:
        feat = feat[None]
    if feat.ndim != 2 or (dim is not None and feat.shape[1] != dim) or feat.shape[0] == 0:
        raise ValueError(
            f'anchor file {path!r}: {key} must be {shape} with K >= 1 (the dimension of '
            f'anchor_center), got shape {tuple(feat.shape)}')
    _check_vectors(feat, path, key, name)
    return feat


def load_anchor_file(path: str) -> Dict[str, Any]:
    """Load an anchor file (published format, with or without vega_mm's ``meta``).

    Every anchor vector (centre or exemplar) must be finite with a non-zero norm that
    float32 can represent; two names of one class (``happy`` and ``joy``) and values
    that are not tensors are errors.  A file without ``anchor_center`` gets the mean
    of each class's L2-normalised exemplars (:func:`exemplar_means`).

    Returns:
        dict with ``class_names`` (list[str]), ``centers`` (Tensor[C, D], float32),
        ``exemplars`` (list of Tensor[K_c, D], in ``class_names`` order),
        ``centers_from_file`` (bool) and ``meta`` (``{}`` for a published file).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a tensor-only torch file in the anchor format, its
            parts disagree (row count, dimension) or hold unusable values; the message
            names the file, the key and, for values, the class.
    """
    path = os.fspath(path)
    obj = _read_dict(path)
    meta = dict(obj.get('meta') or {})
    img_dict = obj.get('anchor_img_dict') or {}
    names = _class_names(obj, path)
    centers, dim = None, None
    if 'anchor_center' in obj:
        centers = _as_float(obj['anchor_center'], path, "'anchor_center'", '[C, D]')
        if centers.ndim != 2:
            raise ValueError(f"anchor file {path!r}: 'anchor_center' must be [C, D], "
                             f'got shape {tuple(centers.shape)}')
        dim = int(centers.shape[1])
        if len(names) != centers.shape[0]:
            raise ValueError(
                f"anchor file {path!r}: 'anchor_center' has {centers.shape[0]} rows but "
                f'{len(names)} classes are named ({names})')
    exemplars = []
    for i, name in enumerate(names):
        if img_dict.get(name) is not None:
            exemplars.append(_exemplar_bank(img_dict[name], name, path, dim))
            dim = int(exemplars[-1].shape[1])
        elif centers is not None:  # no exemplar bank: the centre is the only exemplar
            exemplars.append(centers[i:i + 1].clone())
        else:
            raise ValueError(f"anchor file {path!r}: class {name!r} has neither an entry in "
                             "'anchor_img_dict' nor an 'anchor_center' row")
    if not names:
        raise ValueError(f'anchor file {path!r}: no classes (anchor_img_dict is empty)')
    if meta.get('dim') is not None and int(meta['dim']) != dim:
        raise ValueError(f"anchor file {path!r}: meta says dim={meta['dim']} but the "
                         f'anchors have {dim} columns')
    from_file = centers is not None
    for i, name in enumerate(names if from_file else ()):
        _check_vectors(centers[i:i + 1], path, f"'anchor_center'[{i}]", name)
    if centers is None:
        centers = exemplar_means(exemplars)
    return dict(class_names=names, centers=centers, exemplars=exemplars,
                centers_from_file=from_file, meta=meta)


def save_anchor_file(path: str, class_names: List[str], exemplars: List[torch.Tensor],
                     meta: Optional[Dict[str, Any]] = None) -> None:
    """Write an anchor file in the published format plus vega_mm's ``meta``.

    Centres are the mean of each class's L2-normalised exemplars (as published: not
    re-normalised; the model normalises anchors before use), :func:`exemplar_means`.
    ``meta`` must hold plain Python values (str, int, float, bool, None, list, dict) so
    that the file loads with ``weights_only=True``.

    The file is written atomically (temporary file, then rename): an interrupted save
    leaves the previous file, if any, untouched.

    Raises:
        ValueError: names and exemplar banks disagree, a bank is empty, dimensions differ
            or an exemplar holds NaN/Inf; ``path`` is a directory.
    """
    class_names = [str(n) for n in class_names]
    if len(class_names) != len(exemplars):
        raise ValueError(f'save_anchor_file({path!r}): {len(class_names)} class names '
                         f'but {len(exemplars)} exemplar banks')
    if len(set(class_names)) != len(class_names):
        raise ValueError(f'save_anchor_file({path!r}): repeated class names {class_names}')
    exemplars = [torch.as_tensor(e).detach().float().cpu().contiguous() for e in exemplars]
    for name, e in zip(class_names, exemplars):
        if e.ndim != 2 or e.shape[0] == 0 or e.shape[1] != exemplars[0].shape[1]:
            raise ValueError(
                f'save_anchor_file({path!r}): class {name!r} has exemplars of shape '
                f'{tuple(e.shape)}; expected [K >= 1, {exemplars[0].shape[-1]}]')
    bad = [n for n, e in zip(class_names, exemplars) if not bool(torch.isfinite(e).all())]
    if bad:
        raise ValueError(f'save_anchor_file({path!r}): the exemplars of {bad} hold NaN or '
                         'Inf; nothing was written')
    if os.path.isdir(path):
        raise ValueError(f'save_anchor_file({path!r}): the path is a directory; expected '
                         'a file name such as anchors.pt')
    centers = exemplar_means(exemplars)
    meta = dict(meta or {})
    meta.setdefault('format', ANCHOR_FILE_FORMAT)
    meta.setdefault('class_names', list(class_names))
    meta.setdefault('dim', int(centers.shape[1]))
    obj = {
        'anchor_center': centers,
        'anchor_img_dict': {n: {'feature': e} for n, e in zip(class_names, exemplars)},
        'meta': meta,
    }
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write_bytes(path, buffer.getvalue())


#: Cosine distance between a file's ``anchor_center`` row and its exemplars' mean
#: above which :func:`read_anchors` warns.
CENTER_TOLERANCE = 1e-3


def _warn_if_centres_disagree(data: Mapping[str, Any], path: str) -> None:
    """Warn when a file's centres are not the mean of its (normalised) exemplars."""
    if not data['centers_from_file']:
        return
    means = exemplar_means(data['exemplars'])
    dist = 1 - F.cosine_similarity(data['centers'], means, dim=-1)
    worst = int(dist.argmax())
    if float(dist[worst]) > CENTER_TOLERANCE:
        far = [n for n, d in zip(data['class_names'], dist.tolist()) if d > CENTER_TOLERANCE]
        warnings.warn(
            f"anchor file {path!r}: 'anchor_center' is not the mean of the exemplars "
            f'(cosine distance up to {float(dist[worst]):.3g}, class '
            f"{data['class_names'][worst]!r}; classes above {CENTER_TOLERANCE:g}: {far}); "
            "the file's centres are used, as the published model does", UserWarning,
            stacklevel=3)


def read_anchors(path: str,
                 class_names: Optional[Sequence[str]] = None,
                 num_classes: Optional[int] = None,
                 dim: Optional[int] = None,
                 class_mapping: Optional[Mapping[str, str]] = None
                 ) -> Tuple[List[str], List[torch.Tensor], Dict[str, Any],
                            Optional[torch.Tensor]]:
    """Read an anchor file once and put its anchors in a dataset's class order.

    This is the one place that checks an anchor file against a model: format and values
    (via :func:`load_anchor_file`), dimension, and class resolution by name and alias.
    A file whose ``anchor_center`` rows are not the mean of its L2-normalised exemplars
    (cosine distance above :data:`CENTER_TOLERANCE`) gives a warning; its centres are
    still the ones returned, as the published model uses them.

    Args:
        path: the anchor file.
        class_names: the dataset's class names, in label order.  None: the file's order
            is taken as the dataset order (with a warning), which needs ``num_classes``
            to equal the file's class count.
        num_classes: the model's class count, checked when given.
        dim: the model's anchor dimension, checked when given (None: the file's).
        class_mapping: classes without anchors of their own -> the class standing in,
            e.g. ``{'excited': 'happy'}``.

    Returns:
        ``(class_names, exemplars, meta, centers)``: exemplars is one Tensor[K_c, D] per
        class in dataset order; meta is the file's metadata (``{}`` for a published
        file); centers is the file's ``anchor_center`` in dataset order, Tensor[C, D],
        or None when the file has none.

    Raises:
        ValueError: wrong dimension or class count, naming the file.
        KeyError: listing every class without anchors.
    """
    data = load_anchor_file(path)
    _warn_if_centres_disagree(data, path)
    file_dim = int(data['centers'].shape[1])
    if dim is not None and file_dim != int(dim):
        encoder = data['meta'].get('encoder')
        raise ValueError(
            f'anchor file {path!r} holds {file_dim}-d anchors but the model expects '
            f'dim={dim}' + (f' (the file was built with {encoder})' if encoder else '')
            + '; rebuild the anchors with a matching image encoder or change the anchor '
            'dimension (anchor_bank.dim)')
    names = data['class_names']
    if class_names is None:
        if num_classes is not None and len(names) != num_classes:
            raise ValueError(
                f'anchor file {path!r} has {len(names)} classes {names} but the model has '
                f'{num_classes}; give class_names (and class_mapping) so anchors can be '
                'matched to the dataset classes')
        warnings.warn(f'no class_names given: the order of anchor file {path!r} '
                      f'({names}) is taken as the dataset class order')
        order = list(range(len(names)))
        class_names = names
    else:
        if num_classes is not None and len(class_names) != num_classes:
            raise ValueError(f'class_names has {len(class_names)} entries but the model has '
                             f'num_classes={num_classes}')
        order = resolve_class_order(names, class_names, class_mapping,
                                    source=f'anchor file {path!r}')
    centers = data['centers'][order].clone() if data['centers_from_file'] else None
    return (list(class_names), [data['exemplars'][i].clone() for i in order], data['meta'],
            centers)

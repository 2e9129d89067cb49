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

from vega_mm.utils.io import atomic_write_bytes
from .classes import resolve_class_order

__all__ = ['ANCHOR_FILE_FORMAT', 'load_anchor_file', 'read_anchors', 'save_anchor_file']

#: ``meta['format']`` of the files vega_mm writes.
ANCHOR_FILE_FORMAT = 'vega_mm.anchors'


def load_anchor_file(path: str) -> Dict[str, Any]:
    """Load an anchor file (published format, with or without vega_mm's ``meta``).

    Returns:
        dict with ``class_names`` (list[str]), ``centers`` (Tensor[C, D], float32),
        ``exemplars`` (list of Tensor[K_c, D], in ``class_names`` order) and ``meta``
        (``{}`` for a published file).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a tensor-only torch file in the anchor format, or
            its parts disagree (row count, dimension); the message names file and key.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f'anchor file {path!r} does not exist')
    try:
        obj = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise ValueError(
            f'anchor file {path!r} could not be read as a tensor-only torch file '
            f'({type(exc).__name__}: {exc})') from exc
    if not isinstance(obj, dict) or 'anchor_center' not in obj:
        raise ValueError(
            f"anchor file {path!r}: expected a dict with keys 'anchor_center' and "
            f"'anchor_img_dict', got {type(obj).__name__}"
            + (f' with keys {sorted(map(str, obj))}' if isinstance(obj, dict) else ''))
    centers = torch.as_tensor(obj['anchor_center']).float()
    if centers.ndim != 2:
        raise ValueError(f"anchor file {path!r}: 'anchor_center' must be [C, D], "
                         f'got shape {tuple(centers.shape)}')
    dim = centers.shape[1]
    meta = dict(obj.get('meta') or {})
    img_dict = obj.get('anchor_img_dict') or {}
    if not isinstance(img_dict, dict):
        raise ValueError(f"anchor file {path!r}: 'anchor_img_dict' must be a dict "
                         f'{{class: {{"feature": Tensor[K, D]}}}}, got '
                         f'{type(img_dict).__name__}')
    names: Optional[List[str]] = meta.get('class_names')
    if names is None:
        names = [str(n) for n in img_dict.keys()]
    names = list(names)
    if len(names) != centers.shape[0]:
        raise ValueError(
            f"anchor file {path!r}: 'anchor_center' has {centers.shape[0]} rows but "
            f'{len(names)} classes are named ({names})')
    exemplars = []
    for i, name in enumerate(names):
        entry = img_dict.get(name)
        if entry is None:
            # No exemplar bank: the centre is the only exemplar.
            exemplars.append(centers[i:i + 1].clone())
            continue
        feat = entry.get('feature') if isinstance(entry, dict) else entry
        if feat is None:
            raise ValueError(f"anchor file {path!r}: anchor_img_dict[{name!r}] has no "
                             f"'feature' (keys {sorted(map(str, entry))})")
        feat = torch.as_tensor(feat).float()
        if feat.ndim == 1:
            feat = feat[None]
        if feat.ndim != 2 or feat.shape[1] != dim or feat.shape[0] == 0:
            raise ValueError(
                f"anchor file {path!r}: anchor_img_dict[{name!r}]['feature'] must be "
                f'[K, {dim}] with K >= 1 (the dimension of anchor_center), got shape '
                f'{tuple(feat.shape)}')
        exemplars.append(feat)
    bad = [n for n, e in zip(names, exemplars) if not bool(torch.isfinite(e).all())]
    if bad or not bool(torch.isfinite(centers).all()):
        raise ValueError(f'anchor file {path!r}: non-finite values (NaN or Inf) in '
                         + (f'the exemplars of {bad}' if bad else "'anchor_center'")
                         + '; rebuild the anchors')
    if meta.get('dim') is not None and int(meta['dim']) != dim:
        raise ValueError(f"anchor file {path!r}: meta says dim={meta['dim']} but "
                         f"'anchor_center' has {dim} columns")
    return dict(class_names=names, centers=centers, exemplars=exemplars, meta=meta)


def save_anchor_file(path: str, class_names: List[str], exemplars: List[torch.Tensor],
                     meta: Optional[Dict[str, Any]] = None) -> None:
    """Write an anchor file in the published format plus vega_mm's ``meta``.

    Centres are the mean of each class's exemplars (as published: the mean of
    L2-normalised features, not re-normalised; the model normalises anchors before use).
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
    centers = torch.stack([e.mean(0) for e in exemplars])
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


def read_anchors(path: str,
                 class_names: Optional[Sequence[str]] = None,
                 num_classes: Optional[int] = None,
                 dim: Optional[int] = None,
                 class_mapping: Optional[Mapping[str, str]] = None
                 ) -> Tuple[List[str], List[torch.Tensor], Dict[str, Any]]:
    """Read an anchor file once and put its exemplar banks in a dataset's class order.

    This is the one place that checks an anchor file against a model: format (via
    :func:`load_anchor_file`), dimension, and class resolution by name and alias.

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
        ``(class_names, exemplars, meta)``: exemplars is one Tensor[K_c, D] per class in
        dataset order; meta is the file's metadata (``{}`` for a published file).

    Raises:
        ValueError: wrong dimension or class count, naming the file.
        KeyError: listing every class without anchors.
    """
    data = load_anchor_file(path)
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
    return list(class_names), [data['exemplars'][i].clone() for i in order], data['meta']

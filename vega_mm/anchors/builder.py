"""Building an anchor bank from a folder of face images, one subfolder per emotion.

::

    faces/
      angry/    001.jpg 002.png ...
      happy/    ...
      neutral/  ...

Folder names are matched to the wanted classes case-insensitively with aliases
(``joy`` == ``happy``, ``anger`` == ``angry``; see :mod:`vega_mm.anchors.classes`).  A
class without a folder can borrow another class's images through ``class_mapping``
(IEMOCAP: ``{'excited': 'happy', 'frustration': 'angry'}``).  Every file is tried as an
image; unreadable, corrupt and non-image files are skipped and reported.  Every class
left without images is listed in a single error before anything is encoded.
"""
import os
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import torch
from PIL import Image

from vega_mm.encoders import ImageEncoder, build_image_encoder
from .classes import canonical_emotion, parse_class_list, parse_class_mapping
from .faces import FaceDetector, build_face_detector
from .images import load_rgb_image, probe_image
from .io import ANCHOR_FILE_FORMAT, save_anchor_file

__all__ = ['AnchorBuildReport', 'AnchorClassError', 'build_anchor_bank_from_folder',
           'scan_class_folders']


class AnchorClassError(ValueError):
    """Some wanted classes have no images; the message lists all of them."""


@dataclass
class AnchorBuildReport:
    """What :func:`build_anchor_bank_from_folder` built and what it met on the way.

    Attributes:
        class_names: anchor classes, in order.
        exemplars: per class, Tensor[K_c, D] of L2-normalised features.
        sources: class -> the folder its images came from.
        mapped: class -> the class it borrowed images from (``class_mapping`` used).
        images: class -> image paths relative to the root folder.
        skipped: ``(relative path, reason)`` for every file not used.
        faces_not_found: relative paths of images encoded whole because no face was found.
        unused_folders: subfolders that match no wanted class.
        n_images: distinct images encoded.
        encode_seconds: time spent preprocessing + encoding.
        total_seconds: time of the whole build.
    """
    root: str
    class_names: List[str]
    exemplars: List[torch.Tensor]
    encoder_identity: Dict[str, Any]
    sources: Dict[str, str] = field(default_factory=dict)
    mapped: Dict[str, str] = field(default_factory=dict)
    images: Dict[str, List[str]] = field(default_factory=dict)
    skipped: List[Tuple[str, str]] = field(default_factory=list)
    faces_not_found: List[str] = field(default_factory=list)
    face_detector: Optional[Dict[str, Any]] = None
    unused_folders: List[str] = field(default_factory=list)
    n_images: int = 0
    encode_seconds: float = 0.0
    total_seconds: float = 0.0

    @property
    def dim(self) -> int:
        return int(self.exemplars[0].shape[1])

    @property
    def images_per_second(self) -> float:
        """Encoding throughput (preprocessing included, image reading excluded)."""
        return self.n_images / self.encode_seconds if self.encode_seconds > 0 else float('nan')

    @property
    def meta(self) -> Dict[str, Any]:
        """The ``meta`` dict stored in the anchor file (plain Python values only)."""
        from vega_mm.version import __version__
        return dict(
            format=ANCHOR_FILE_FORMAT,
            version=1,
            vega_mm_version=__version__,
            class_names=list(self.class_names),
            dim=self.dim,
            encoder=dict(self.encoder_identity),
            images={c: list(v) for c, v in self.images.items()},
            sources=dict(self.sources),
            class_mapping=dict(self.mapped),
            face_detector=dict(self.face_detector) if self.face_detector else None,
            faces_not_found=list(self.faces_not_found),
            skipped=[[p, r] for p, r in self.skipped],
            root=self.root,
        )

    def save(self, path: str) -> None:
        """Write the anchor file (published format + :attr:`meta`)."""
        save_anchor_file(path, self.class_names, self.exemplars, self.meta)

    def to_table(self) -> str:
        """A human-readable summary: one row per class, then skipped files and speed."""
        not_found = {}
        for rel in self.faces_not_found:
            not_found[rel.split('/')[0]] = not_found.get(rel.split('/')[0], 0) + 1
        rows = [('class', 'images', 'from', 'no face')]
        for name in self.class_names:
            folder = self.sources[name]
            src = folder + (' (mapped)' if name in self.mapped else '')
            nf = str(not_found.get(folder, 0)) if self.face_detector else '-'
            rows.append((name, str(len(self.images[name])), src, nf))
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = ['  '.join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.insert(1, '  '.join('-' * w for w in widths))
        enc = self.encoder_identity
        lines.append('')
        lines.append(f"encoder: {enc.get('type')} {enc.get('model')} "
                     f"weights={enc.get('weights')} dim={self.dim}")
        if self.face_detector:
            lines.append(f'faces not found (whole image used): {len(self.faces_not_found)} '
                         f'of {self.n_images}')
        if self.unused_folders:
            lines.append(f'folders not used: {self.unused_folders}')
        lines.append(f'skipped files: {len(self.skipped)}')
        for rel, reason in self.skipped:
            lines.append(f'  {rel}: {reason}')
        lines.append(f'encoded {self.n_images} images in {self.encode_seconds:.1f} s: '
                     f'{self.images_per_second:.1f} images/s '
                     f'(total {self.total_seconds:.1f} s)')
        return '\n'.join(lines)


def scan_class_folders(root: str) -> Dict[str, str]:
    """Canonical class name -> subfolder name, for every non-hidden subfolder of ``root``.

    Raises:
        FileNotFoundError: ``root`` is not a directory.
        AnchorClassError: two folders stand for the same class (``joy`` and ``happy``) or
            there are no subfolders.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f'face folder {root!r} does not exist or is not a directory')
    folders = sorted(d for d in os.listdir(root)
                     if not d.startswith('.') and os.path.isdir(os.path.join(root, d)))
    if not folders:
        raise AnchorClassError(f'face folder {root!r} has no subfolders; expected one '
                               'subfolder of face images per emotion (angry/, happy/, ...)')
    by_class: Dict[str, str] = {}
    for folder in folders:
        canon = canonical_emotion(folder)
        if canon in by_class:
            raise AnchorClassError(
                f'face folder {root!r}: subfolders {by_class[canon]!r} and {folder!r} both '
                f'stand for class {canon!r}; merge them or remove one')
        by_class[canon] = folder
    return by_class


def _list_files(folder: str) -> List[str]:
    """Every regular file under ``folder`` (recursively, sorted, hidden ones excluded)."""
    out = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
        out.extend(os.path.join(dirpath, f) for f in filenames if not f.startswith('.'))
    return sorted(out, key=lambda p: os.path.relpath(p, folder).split(os.sep))


def _empty_folder_problems(wanted: Sequence[str], sources: Mapping[str, str],
                           with_images: set, skipped: Sequence[Tuple[str, str]]) -> List[str]:
    problems = []
    for name in wanted:
        sub = sources.get(name)
        if sub is not None and sub not in with_images:
            n_bad = sum(1 for rel, _ in skipped if rel.startswith(sub + '/'))
            problems.append(f'{name!r}: folder {sub!r} has no readable image '
                            f'({n_bad} files skipped)')
    return problems


def _raise_class_problems(problems: Sequence[str], wanted: Sequence[str], root: str,
                          by_class: Mapping[str, str]) -> None:
    if problems:
        raise AnchorClassError(
            f'face folder {root!r}: {len(problems)} of {len(wanted)} classes have no '
            f'images: ' + '; '.join(problems) + f'. Folders found: {sorted(by_class.values())}.'
            " Add a subfolder of face images per class, or map a class to another one "
            "(--map excited=happy, or class_mapping={'excited': 'happy'}).")


def _class_sources(by_class: Mapping[str, str], classes, class_mapping
                   ) -> Tuple[List[str], Dict[str, str], Dict[str, str], List[str]]:
    """The anchor classes and which folder feeds each: (wanted classes, class -> folder,
    class -> the class it is mapped to, problems of classes without images)."""
    wanted = parse_class_list(classes)
    mapping = {canonical_emotion(k): (k, v) for k, v in parse_class_mapping(class_mapping).items()}
    if wanted is None:
        # Every folder, plus the mapped classes that have no folder of their own.
        wanted = sorted(by_class.values())
        wanted += [src for canon, (src, _) in mapping.items() if canon not in by_class]
    unknown = [src for canon, (src, _) in mapping.items()
               if canon not in {canonical_emotion(w) for w in wanted}]
    if unknown:
        raise AnchorClassError(f'class mapping names classes {unknown} that are not among '
                               f'the anchor classes {wanted}')
    sources: Dict[str, str] = {}
    mapped: Dict[str, str] = {}
    problems: List[str] = []
    for name in wanted:
        canon = canonical_emotion(name)
        if canon in by_class:
            sources[name] = by_class[canon]
        elif canon in mapping:
            target = mapping[canon][1]
            if canonical_emotion(target) in by_class:
                sources[name] = by_class[canonical_emotion(target)]
                mapped[name] = target
            else:
                problems.append(f'{name!r} is mapped to {target!r}, which has no folder')
        else:
            problems.append(f'{name!r} has no folder and no mapping')
    return wanted, sources, mapped, problems


def _probe_files(root: str, order: Sequence[str], max_image_pixels: Optional[int]
                 ) -> Tuple[List[Tuple[str, str]], List[Tuple[str, str]]]:
    """(folder, path) of every file of the folders that looks like an image, and
    (relative path, reason) of the others."""
    files, skipped = [], []
    for sub in order:
        for path in _list_files(os.path.join(root, sub)):
            try:
                probe_image(path, max_image_pixels)
            except ValueError as exc:
                skipped.append((os.path.relpath(path, root).replace(os.sep, '/'), str(exc)))
                continue
            files.append((sub, path))
    return files, skipped


def _encode_files(root: str, order: Sequence[str], files: Sequence[Tuple[str, str]],
                  encoder: ImageEncoder, detector: Optional[FaceDetector], batch_size: int,
                  progress: bool, max_image_pixels: Optional[int],
                  max_batch_pixels: int) -> Dict[str, Any]:
    """Read, crop and encode the files a batch at a time: decoded images are dropped
    once encoded, so memory stays bounded by the batch (at most ``batch_size`` images
    and ``max_batch_pixels`` pixels).

    Returns:
        ``rel_paths`` and ``feats`` (per folder, in file order), ``skipped`` (files that
        could not be decoded), ``faces_not_found`` and ``encode_seconds``.
    """
    out = dict(rel_paths={sub: [] for sub in order}, feats={sub: [] for sub in order},
               skipped=[], faces_not_found=[], encode_seconds=0.0)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(files), desc=f'encoding ({encoder.identity.get("model")})',
                   unit='img')
    batch: List[Tuple[str, Image.Image]] = []

    def flush() -> None:
        if not batch:
            return
        t0 = time.perf_counter()
        feats = encoder.encode([im for _, im in batch], batch_size=batch_size)
        out['encode_seconds'] += time.perf_counter() - t0
        for (sub, _), feat in zip(batch, feats):
            out['feats'][sub].append(feat)
        batch.clear()

    pixels = 0
    for sub, path in files:
        rel = os.path.relpath(path, root).replace(os.sep, '/')
        if bar is not None:
            bar.update(1)
        try:
            img = load_rgb_image(path, max_pixels=max_image_pixels)
        except ValueError as exc:
            out['skipped'].append((rel, str(exc)))
            continue
        if detector is not None:
            img, found = detector.crop(img)
            if not found:
                out['faces_not_found'].append(rel)
        batch.append((sub, img))
        out['rel_paths'][sub].append(rel)
        pixels += img.width * img.height
        if len(batch) >= batch_size or pixels >= max_batch_pixels:
            flush()
            pixels = 0
    flush()
    if bar is not None:
        bar.close()
    return out


def build_anchor_bank_from_folder(
        folder: str,
        encoder: Union[ImageEncoder, Mapping[str, Any]],
        classes: Union[None, str, Sequence[str]] = None,
        class_mapping: Union[None, str, Mapping[str, str], Sequence[str]] = None,
        face_detector: Union[None, FaceDetector, Mapping[str, Any]] = None,
        batch_size: int = 32,
        progress: bool = True,
        max_image_pixels: Optional[int] = None,
        max_batch_pixels: int = 1 << 26) -> AnchorBuildReport:
    """Encode a folder of face images (one subfolder per class) into anchor banks.

    Args:
        folder: root folder with one subfolder of images per emotion.
        encoder: an :class:`~vega_mm.encoders.ImageEncoder` or its config.
        classes: the anchor classes in order: ``None`` (every subfolder, sorted, then
            the classes of ``class_mapping`` without a folder), a dataset name
            (``'iemocap'``, ``'meld'``), ``'a,b,c'`` or a list.  Anchor classes take
            these names; folders are matched with aliases.
        class_mapping: for classes without a folder, the class whose images stand for
            them (``{'excited': 'happy'}``, ``'excited=happy,frustration=angry'``).  A
            class that has its own folder keeps its own images.
        face_detector: a :class:`~vega_mm.anchors.faces.FaceDetector`, its config, or
            ``None`` to encode whole images.
        batch_size: images per forward pass, and at most this many decoded images are
            held in memory at a time.
        progress: show a progress bar while encoding.
        max_image_pixels: larger images are skipped (reported) before they are decoded;
            default PIL's ``Image.MAX_IMAGE_PIXELS`` (see :func:`load_rgb_image`).
        max_batch_pixels: a batch is encoded as soon as its decoded images hold this
            many pixels (64 Mpx by default: about 200 MB of RGB), whatever its size.

    Returns:
        :class:`AnchorBuildReport`; ``report.save(path)`` writes the anchor file.

    Raises:
        AnchorClassError: listing every wanted class left without images (no folder and
            no mapping, a mapping to a class without images, or a folder with no
            readable image).
    """
    t_start = time.perf_counter()
    root = os.path.abspath(os.fspath(folder))
    by_class = scan_class_folders(root)
    wanted, sources, mapped, problems = _class_sources(by_class, classes, class_mapping)
    used = set(sources.values())
    unused = [f for f in sorted(by_class.values()) if f not in used]
    order = sorted(used)
    # a first look at every file, so that class problems come before any encoding
    files, skipped = _probe_files(root, order, max_image_pixels)
    _raise_class_problems(problems + _empty_folder_problems(
        wanted, sources, {sub for sub, _ in files}, skipped), wanted, root, by_class)
    detector = build_face_detector(face_detector)
    encoder = build_image_encoder(encoder)
    run = _encode_files(root, order, files, encoder, detector, batch_size, progress,
                        max_image_pixels, max_batch_pixels)
    skipped += run['skipped']
    rel_paths, feats_of = run['rel_paths'], run['feats']
    # files that passed the first look but could not be decoded
    _raise_class_problems(_empty_folder_problems(
        wanted, sources, {sub for sub in order if rel_paths[sub]}, skipped), wanted, root,
        by_class)
    stacked = {sub: torch.stack(feats_of[sub]) for sub in order if feats_of[sub]}
    return AnchorBuildReport(
        root=root, class_names=list(wanted),
        exemplars=[stacked[sources[n]].clone() for n in wanted],
        encoder_identity=dict(encoder.identity), sources=sources, mapped=mapped,
        images={n: list(rel_paths[sources[n]]) for n in wanted}, skipped=skipped,
        faces_not_found=run['faces_not_found'],
        face_detector=detector.config() if detector is not None else None,
        unused_folders=unused, n_images=sum(len(v) for v in feats_of.values()),
        encode_seconds=run['encode_seconds'], total_seconds=time.perf_counter() - t_start)

"""Reading face images for anchor banks: any mode to RGB, and nothing too large to
decode (decompression bombs are refused from the header, before any pixel is read)."""
from typing import Optional

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

__all__ = ['load_rgb_image', 'probe_image']


def load_rgb_image(path: str, max_pixels: Optional[int] = None) -> Image.Image:
    """Read an image file fully and return it as RGB.

    EXIF orientation is applied; grayscale becomes 3-channel; transparency (RGBA, LA,
    palette) is composited on a white background; 16-bit and float images are rescaled
    to 8 bits.

    Args:
        path: the image file.
        max_pixels: refuse images with more pixels, before decoding them (default:
            PIL's ``Image.MAX_IMAGE_PIXELS``, the size at which PIL only warns of a
            decompression bomb; PIL refuses twice that).

    Raises:
        ValueError: the file is not an image, is larger than ``max_pixels`` or cannot
            be decoded (message says which).
    """
    try:
        with Image.open(path) as im:
            _check_size(im, max_pixels)
            im.load()  # decode now: truncated and corrupt files fail here, not later
            im = ImageOps.exif_transpose(im)
            return _to_rgb(im)
    except UnidentifiedImageError as exc:
        raise ValueError('not an image (unrecognised format)') from exc
    except Image.DecompressionBombError as exc:
        raise ValueError(f'image too large ({exc})') from exc
    except ValueError as exc:
        if str(exc).startswith('image too large'):
            raise
        raise ValueError(f'corrupt or unreadable image ({type(exc).__name__}: {exc})') from exc
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f'corrupt or unreadable image ({type(exc).__name__}: {exc})') from exc


def _check_size(im: Image.Image, max_pixels: Optional[int]) -> None:
    limit = max_pixels if max_pixels is not None else Image.MAX_IMAGE_PIXELS
    width, height = im.size  # from the header: nothing decoded yet
    if limit is not None and width * height > limit:
        raise ValueError(f'image too large: {width}x{height} = {width * height} pixels, '
                         f'more than {limit} (a decompression bomb?)')


def probe_image(path: str, max_pixels: Optional[int] = None) -> None:
    """Check an image file without decoding its pixels: a known format, a size within
    ``max_pixels`` (as :func:`load_rgb_image`) and, where the format allows, intact.

    Raises:
        ValueError: the reason, as :func:`load_rgb_image` words it.
    """
    try:
        with Image.open(path) as im:
            _check_size(im, max_pixels)
            im.verify()
    except UnidentifiedImageError as exc:
        raise ValueError('not an image (unrecognised format)') from exc
    except Image.DecompressionBombError as exc:
        raise ValueError(f'image too large ({exc})') from exc
    except ValueError:
        raise
    except (OSError, SyntaxError, EOFError) as exc:
        raise ValueError(f'corrupt or unreadable image ({type(exc).__name__}: {exc})') from exc


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == 'RGB':
        return im.copy()
    if im.mode == 'P':
        im = im.convert('RGBA' if 'transparency' in im.info else 'RGB')
    if im.mode in ('RGBA', 'LA', 'RGBa', 'La', 'PA'):
        rgba = im.convert('RGBA')
        background = Image.new('RGBA', rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert('RGB')
    if im.mode in ('I', 'I;16', 'I;16B', 'I;16L', 'I;16N', 'F'):
        arr = np.asarray(im, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(arr.round().astype(np.uint8)).convert('RGB')
    return im.convert('RGB')  # L, 1, CMYK, YCbCr, LAB, HSV

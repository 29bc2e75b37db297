"""Reading photos for training and testing: format checks, shorter-side resize, random or centre crop.

Every image reaches a model as a float32 ``(3, size, size)`` RGB tensor in [0, 1]. Files that cannot be
that without guessing are refused with :class:`BadImageError` (a ``ValueError``) naming the file and the
reason: unreadable or truncated files, grey (``L``, ``LA``, ``1``), CMYK and other colour modes, and 16- or
32-bit samples. Palette and RGBA files are accepted (converted to RGB, alpha dropped). The check reads only
the file header, so it is cheap enough to run on every file.

Geometry: the shorter side is resized to ``size`` (bicubic, antialiased when shrinking), then a
``size × size`` square is cut: at a random offset for training, in the centre for testing. JPEGs are
decoded at the smallest power-of-two reduction that keeps the shorter side ≥ ``size`` (``Image.draft``),
which makes large photos several times cheaper to load and changes nothing else.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image, UnidentifiedImageError

from pconv.core.limits import IMAGE_LIMIT
from pconv.core.masks import image_from_uint8

if TYPE_CHECKING:  # the dataset names and checks load without torch (`pconv train --help` lists them)
    import torch

__all__ = [
    "BadImageError",
    "check_image",
    "crop_square",
    "load_image",
    "read_rgb",
]

_RGB_MODES = frozenset({"RGB", "RGBA", "RGBX", "P"})
_GREY_MODES = frozenset({"L", "LA", "1", "La", "PA"})
_DEEP_RAW = re.compile(r";(16|32)")

Crop = Literal["center", "random"]


class BadImageError(ValueError):
    """An image file that is unreadable or not 8-bit colour; the message names the file and the reason."""


def _open_checked(path: Path) -> Image.Image:
    try:
        with warnings.catch_warnings():  # the size is checked against IMAGE_LIMIT below instead
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(path)
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: no such image file") from None
    except Image.DecompressionBombError:
        raise BadImageError(f"{path}: claims more pixels than PIL decodes (a decompression bomb?)") from None
    except (UnidentifiedImageError, OSError) as error:
        raise BadImageError(f"{path}: not a readable image ({error.__class__.__name__})") from None
    try:
        IMAGE_LIMIT.check(path, *image.size)
    except ValueError as error:
        image.close()
        raise BadImageError(str(error)) from None
    args = image.tile[0][3] if image.tile else ""
    raw_mode = args if isinstance(args, str) else str(args[0]) if args else ""
    if image.mode in ("I", "F") or image.mode.startswith("I;16") or _DEEP_RAW.search(raw_mode):
        image.close()
        raise BadImageError(f"{path}: 16/32-bit samples ({image.mode}, raw {raw_mode}); 8-bit RGB expected")
    if image.mode in _GREY_MODES:
        image.close()
        raise BadImageError(f"{path}: a grey image (mode {image.mode}); RGB expected")
    if image.mode not in _RGB_MODES:
        image.close()
        raise BadImageError(f"{path}: colour mode {image.mode} (CMYK or other); RGB expected")
    return image


def check_image(path: Path) -> None:
    """Raise :class:`BadImageError` / ``FileNotFoundError`` unless ``path`` is a usable 8-bit colour image.

    Reads the header only; a file truncated after its header is caught when it is decoded.
    """
    _open_checked(path).close()


def read_rgb(path: Path, *, min_side: int | None = None) -> np.ndarray:
    """Decode a checked image as ``(H, W, 3)`` uint8 RGB.

    ``min_side`` lets JPEG decoding skip resolution that a later resize to that shorter side would drop
    (the result's shorter side stays ≥ ``min_side``); ``None`` decodes at full size.
    """
    with _open_checked(path) as image:
        if min_side is not None and image.format == "JPEG":
            width, height = image.size
            scale = min_side / min(width, height)
            image.draft("RGB", (max(1, int(width * scale + 0.5)), max(1, int(height * scale + 0.5))))
        try:
            rgb = image.convert("RGB")
        except OSError as error:  # truncated or corrupt pixel data
            raise BadImageError(f"{path}: cannot decode the pixels ({error})") from None
    return np.array(rgb, dtype=np.uint8)  # a writable copy: torch refuses read-only buffers


def crop_square(
    rgb: np.ndarray, *, size: int, crop: Crop = "center", rng: np.random.Generator | None = None
) -> np.ndarray:
    """Resize the shorter side of ``(H, W, 3)`` uint8 ``rgb`` to ``size`` and cut a ``size × size`` square.

    ``crop="random"`` draws the offset from ``rng`` (required, so runs are reproducible); ``"center"``
    takes the middle. Returns ``(size, size, 3)`` uint8.
    """
    if size < 1:
        raise ValueError(f"image size must be positive, got {size}")
    if crop not in ("center", "random"):
        raise ValueError(f"crop must be 'center' or 'random', got {crop!r}")
    height, width = rgb.shape[:2]
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    if (new_h, new_w) != (height, width):
        rgb = np.array(Image.fromarray(rgb).resize((new_w, new_h), Image.Resampling.BICUBIC))  # writable
    if crop == "random":
        if rng is None:
            raise ValueError("a random crop needs rng (a numpy Generator), so that it can be reproduced")
        top, left = int(rng.integers(0, new_h - size + 1)), int(rng.integers(0, new_w - size + 1))
    else:
        top, left = (new_h - size) // 2, (new_w - size) // 2
    return rgb[top : top + size, left : left + size]


def load_image(
    path: Path, *, size: int = 512, crop: Crop = "center", rng: np.random.Generator | None = None
) -> torch.Tensor:
    """Load one photo as float32 ``(3, size, size)`` RGB in [0, 1] (shorter-side resize, then crop).

    Raises :class:`BadImageError` for unreadable, grey, CMYK or 16-bit files and ``FileNotFoundError``
    for a missing one.
    """
    return image_from_uint8(crop_square(read_rgb(Path(path), min_side=size), size=size, crop=crop, rng=rng))

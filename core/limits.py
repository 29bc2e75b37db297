"""Image-size limits, checked from a file's header before any pixel is decoded.

A 74-byte PNG can claim 30000×30000 16-bit RGBA pixels, which a decoder would try to allocate (7.2 GB);
so every mask, photo and frame is measured first and refused above :data:`IMAGE_LIMIT` (64 megapixels
unless ``PCONV_MAX_PIXELS`` says otherwise). Inpainting needs far more memory per pixel than decoding, so
it has its own, lower :data:`INPAINT_LIMIT` (``PCONV_MAX_INPAINT_PIXELS``).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

__all__ = ["IMAGE_LIMIT", "INPAINT_LIMIT", "PixelLimit", "check_image_header"]


@dataclass(frozen=True)
class PixelLimit:
    """A bound on ``width × height``: ``default`` pixels, or the value of the environment variable ``env``."""

    env: str
    default: int

    def value(self) -> int:
        text = os.environ.get(self.env, "").strip()
        if not text:
            return self.default
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{self.env}={text!r}: expected a whole number of pixels") from None
        if value < 1:
            raise ValueError(f"{self.env}={text!r}: must be positive")
        return value

    def check(self, what: str | os.PathLike[str], width: int, height: int) -> None:
        """Refuse a ``width × height`` image (``what`` names it) above the limit, saying how to raise it."""
        limit = self.value()
        if width * height > limit:
            raise ValueError(
                f"{what}: {width}x{height} is {width * height:,} pixels, above the limit of {limit:,} "
                f"(set {self.env} to allow more)"
            )


IMAGE_LIMIT = PixelLimit("PCONV_MAX_PIXELS", 64_000_000)
"""Masks, photos and frames: 64 megapixels (8000×8000; a 64 MB mask, a 192 MB RGB photo once decoded)."""

INPAINT_LIMIT = PixelLimit("PCONV_MAX_INPAINT_PIXELS", 2048 * 2048)
"""Photos given to ``pconv inpaint``: 4.2 megapixels (2048×2048). The paper's 8-layer U-Net peaks at about
1 KB per pixel on the CPU (1.05 GB over the model for a 1024×1024 photo, 2026-11-27), so about 4.4 GB here."""


def check_image_header(path: str | os.PathLike[str], limit: PixelLimit = IMAGE_LIMIT) -> None:
    """Read ``path``'s header only and refuse it when it claims more pixels than ``limit``.

    Files PIL cannot identify are refused (a Radiance HDR renamed ``.png`` would otherwise reach OpenCV,
    which decodes 9000×9000 float pixels from 5 MB); damaged headers of known formats pass, for the
    decoder that follows to report. OpenCV's own limit is ours too (see ``pconv.core``).
    PIL's own bomb limit is raised to ``limit`` where the user asked for more.
    """
    allowed = limit.value()
    if Image.MAX_IMAGE_PIXELS is not None and allowed > 2 * Image.MAX_IMAGE_PIXELS:
        Image.MAX_IMAGE_PIXELS = allowed
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(Path(path)) as image:
                width, height = image.size
    except Image.DecompressionBombError:
        raise ValueError(
            f"{path}: claims more than {2 * (Image.MAX_IMAGE_PIXELS or 0):,} pixels, above the limit of "
            f"{allowed:,} (set {limit.env} to allow more)"
        ) from None
    except UnidentifiedImageError:
        raise ValueError(
            f"{path}: not a readable image (no PNG, JPEG, BMP, WebP, TIFF or PPM header)"
        ) from None
    except (OSError, SyntaxError, ValueError):
        return
    limit.check(path, width, height)

"""The toolkit's one mask convention, and the codecs that carry masks and images to and from disk.

* mask files are 8-bit single-channel PNGs with **255 = hole**, 0 = valid;
* in memory a ``hole`` array is ``bool`` with ``True`` = hole;
* tensors handed to models are float ``(B, 1, H, W)`` with **1 = valid** (the paper's M);
* image tensors are float RGB ``(B, 3, H, W)`` in [0, 1]; image files are 8-bit, and OpenCV writes them
  in BGR order, so the channel flip happens here and nowhere else.

Convert between these only through this module: :func:`valid_from_hole` and :func:`hole_from_valid` at
file I/O, :func:`composite` wherever an output meets its input, :func:`image_to_uint8` /
:func:`image_from_uint8` / :func:`encode_image_png` for pixels.

Example:
    >>> hole = np.array([[True, False]])
    >>> valid_from_hole(hole)
    tensor([[[0., 1.]]])
    >>> hole_from_valid(valid_from_hole(hole)[None])
    array([[[ True, False]]])
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import cv2
import numpy as np

from pconv.core.files import atomic_write_bytes
from pconv.core.limits import check_image_header

if TYPE_CHECKING:  # torch is imported where a tensor is made: mask tools that only read and write PNGs
    from torch import Tensor  # (all of maskgen) start without the seconds it takes

__all__ = [
    "MASK_THRESHOLD",
    "composite",
    "encode_image_png",
    "encode_mask_png",
    "encode_png",
    "hole_from_valid",
    "image_from_uint8",
    "image_to_uint8",
    "read_mask_png",
    "valid_from_hole",
    "white_holes",
    "write_mask_png",
]

MASK_THRESHOLD = 128
"""Grey level that splits a non-binary mask: values >= 128 count as 255, lower values as 0."""


def encode_png(image: np.ndarray) -> bytes:
    """Encode a uint8 image as PNG with fixed settings, so equal arrays give equal bytes.

    Shape: ``(H, W)`` grey or ``(H, W, 3)`` BGR, dtype uint8.
    """
    if image.dtype != np.uint8:
        raise ValueError(f"PNG encoding expects uint8, got {image.dtype}")
    ok, buffer = cv2.imencode(".png", image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise ValueError(f"could not encode an image of shape {image.shape} as PNG")
    return buffer.tobytes()


def encode_mask_png(hole: np.ndarray) -> bytes:
    """Encode a hole map as an 8-bit grey PNG, 255 = hole, with settings made for two-level images.

    No row filter and zlib's run-length strategy: about four times faster than :func:`encode_png` and
    smaller files for masks (long runs of equal pixels). Fixed settings, so equal masks give equal bytes.

    Shape: ``hole`` is ``(H, W)`` bool (True = hole).
    """
    if hole.ndim != 2 or hole.dtype != np.bool_:
        raise ValueError(f"a hole map must be a 2-D bool array, got {hole.dtype} of shape {hole.shape}")
    ok, buffer = cv2.imencode(
        ".png",
        hole.view(np.uint8) * np.uint8(255),
        [
            cv2.IMWRITE_PNG_COMPRESSION,
            6,
            cv2.IMWRITE_PNG_STRATEGY,
            cv2.IMWRITE_PNG_STRATEGY_RLE,
            cv2.IMWRITE_PNG_FILTER,
            cv2.IMWRITE_PNG_FILTER_NONE,
        ],
    )
    if not ok:
        raise ValueError(f"could not encode a mask of shape {hole.shape} as PNG")
    return buffer.tobytes()


def write_mask_png(path: str | os.PathLike[str], hole: np.ndarray) -> None:
    """Write a hole map as an 8-bit PNG, 255 = hole, atomically.

    Shape: ``hole`` is ``(H, W)`` bool (True = hole).
    """
    if hole.ndim != 2 or hole.dtype != np.bool_:
        raise ValueError(f"a hole map must be a 2-D bool array, got {hole.dtype} of shape {hole.shape}")
    atomic_write_bytes(path, encode_png(hole.astype(np.uint8) * 255))


def read_mask_png(
    path: str | os.PathLike[str], *, hole_value: int = 255, threshold: int = MASK_THRESHOLD
) -> np.ndarray:
    """Read any mask image as a hole map, whatever its convention and format.

    Grey, RGB(A) and 16-bit files are accepted: colour is reduced to grey, alpha is dropped and 16-bit
    values are scaled to 8 bits; the grey level is then split at ``threshold``. A mask whose brightest
    value is 1 is a 0/1 mask (some datasets store them so) and is split at 1 instead: at 128 it would
    silently read as one convention's "no hole at all". ``hole_value`` names the
    convention: 255 (NVIDIA's test masks, ours) means bright = hole, 0 (NVIDIA's training masks, qd-imd)
    means dark = hole.

    Returns ``(H, W)`` bool, True = hole.
    """
    if hole_value not in (0, 255):
        raise ValueError(f"hole value must be 0 or 255, got {hole_value}")
    if Path(path).is_file():
        check_image_header(path)
    image = cv2.imread(os.fspath(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        if not Path(path).is_file():
            raise FileNotFoundError(f"{path}: no such mask file")
        raise ValueError(f"{path}: not a readable image")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise ValueError(f"{path}: unsupported mask pixel type {image.dtype}")
    if image.ndim == 3:
        code = cv2.COLOR_BGRA2GRAY if image.shape[2] == 4 else cv2.COLOR_BGR2GRAY
        image = cv2.cvtColor(image, code)
    bright = image >= (1 if image.max() == 1 else threshold)
    return bright if hole_value == 255 else ~bright


def valid_from_hole(hole: np.ndarray) -> Tensor:
    """The model's mask M of a hole map: a channel axis is added before the last two.

    Shape: ``hole`` ``(H, W)`` or ``(B, H, W)`` bool, True = hole. Returns float32 ``(1, H, W)`` or
    ``(B, 1, H, W)``, 1 = valid, 0 = hole.
    """
    import torch

    if hole.dtype != np.bool_ or hole.ndim not in (2, 3):
        raise ValueError(
            f"a hole map must be a 2-D or 3-D bool array, got {hole.dtype} of shape {hole.shape}"
        )
    return torch.from_numpy(np.logical_not(hole)).float().unsqueeze(-3)


def hole_from_valid(mask: Tensor) -> np.ndarray:
    """The hole maps of a batch of model masks, on the CPU: what file writers and OpenCV take.

    Shape: ``mask`` ``(B, 1, H, W)`` float, 1 = valid (anything not above 0.5 counts as hole). Returns
    ``(B, H, W)`` bool, True = hole.
    """
    if mask.dim() != 4 or mask.shape[1] != 1:
        raise ValueError(f"mask must have shape (B, 1, H, W), got {tuple(mask.shape)}")
    return (mask[:, 0] <= 0.5).cpu().numpy()


def composite(output: Tensor, image: Tensor, mask: Tensor) -> Tensor:
    """The paper's I_comp = M⊙I + (1−M)⊙I_out: ``output`` where the hole is, ``image`` everywhere else.

    Every method is scored, shown and trained on this, so valid pixels are the input's bit for bit whatever
    the output holds there. No clamping: callers that need [0, 1] clamp ``output`` first.

    Shape: ``output`` and ``image`` ``(B, C, H, W)`` float; ``mask`` ``(B, 1, H, W)`` float, 1 = valid.
    Returns ``(B, C, H, W)`` in the promoted dtype of the two images.
    """
    import torch

    return torch.where(mask > 0.5, image, output)


def white_holes(image: Tensor, mask: Tensor) -> Tensor:
    """``image`` with its holes painted white: how a masked input is shown in samples and grids.

    Shape: ``image`` ``(B, 3, H, W)`` or ``(3, H, W)`` float in [0, 1]; ``mask`` the same with one
    channel, 1 = valid.
    """
    import torch

    return composite(torch.ones_like(image), image, mask)


def image_to_uint8(image: Tensor) -> np.ndarray:
    """8-bit RGB pixels of an image tensor (clamped to [0, 1], scaled by 255, rounded half to even).

    Shape: ``(3, H, W)`` or ``(B, 3, H, W)`` float RGB. Returns ``(H, W, 3)`` or ``(B, H, W, 3)`` uint8 RGB.
    """
    import torch

    pixels = (image.detach().float().clamp(0, 1) * 255).round().to(torch.uint8)
    return pixels.movedim(-3, -1).cpu().numpy()


def image_from_uint8(pixels: np.ndarray) -> Tensor:
    """An image tensor from 8-bit RGB pixels: the reverse of :func:`image_to_uint8`.

    Shape: ``(H, W, 3)`` or ``(B, H, W, 3)`` uint8 RGB. Returns float32 ``(3, H, W)`` or ``(B, 3, H, W)``
    in [0, 1].
    """
    import torch

    return torch.from_numpy(np.ascontiguousarray(pixels)).movedim(-1, -3).float().div_(255.0)


def encode_image_png(image: Tensor) -> bytes:
    """PNG bytes of an image tensor (8-bit, RGB flipped to OpenCV's BGR), with :func:`encode_png`'s settings.

    Shape: ``(3, H, W)`` float RGB in [0, 1] (values outside are clamped).
    """
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must have shape (3, H, W), got {tuple(image.shape)}")
    return encode_png(np.ascontiguousarray(image_to_uint8(image)[..., ::-1]))

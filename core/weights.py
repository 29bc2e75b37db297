"""Pretrained networks' weight files: read safely, found in the torch hub cache, fed the right input.

VGG16 (the losses, LPIPS's backbone) comes from torchvision and the scoring Inception-v3 from torch-fidelity:
their files sit in the torch hub cache when a user once downloaded them, and they are read with the safe
unpickler (``weights_only=True``: nothing in a file can run code when loaded). torchvision's networks expect
RGB normalized with ImageNet's statistics.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "check_torch_archive", "hub_checkpoint_path", "load_torch_file"]

ARCHIVE_SLACK = 64 << 20
"""Bytes a torch file may inflate to beyond its own size (see :func:`check_torch_archive`)."""

IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
"""ImageNet mean RGB in [0, 1]: input normalisation of torchvision's weights, and a hole placeholder of the
Conv baseline."""
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)
"""ImageNet standard deviation of RGB in [0, 1], the other half of the normalisation."""


def hub_checkpoint_path(url: str) -> Path:
    """Where torchvision's weights API keeps the file of ``url``: ``torch.hub.get_dir()/checkpoints/NAME``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(urlparse(url).path).name


def load_torch_file(path: str | os.PathLike[str], *, what: str) -> Any:
    """Read a torch file onto the CPU with the safe unpickler; ``what`` names it in errors (``checkpoint``).

    Raises FileNotFoundError for a missing file and ValueError naming the file for anything the unpickler
    refuses (it raises many types for a foreign or truncated file).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such {what}")
    check_torch_archive(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable {what} ({type(error).__name__})") from None


def check_torch_archive(path: str | os.PathLike[str]) -> None:
    """Refuse a torch file whose entries would inflate far beyond its size, from its zip directory alone.

    ``torch.save`` stores its entries uncompressed, so what loading allocates is about the file's size; a
    crafted archive can hold a DEFLATE'd 512 MiB tensor in 839 KB. The declared sizes of all entries may
    total at most the file's size plus :data:`ARCHIVE_SLACK`, else a one-line ValueError names the file
    (an entry that inflates beyond its declared size is refused by torch's reader). Files of the legacy,
    pre-zip format pass: they are read as stored.
    """
    path = Path(path)
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            declared = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(f"{path}: a damaged torch file ({type(error).__name__})") from None
    allowed = path.stat().st_size + ARCHIVE_SLACK
    if declared > allowed:
        raise ValueError(
            f"{path}: its entries inflate to {declared:,} bytes, more than the {path.stat().st_size:,}-byte "
            "file holds; torch.save stores them uncompressed, so refusing it"
        )

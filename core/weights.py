"""Pretrained networks' weight files: read safely, found in the torch hub cache, fed the right input.

VGG16 (the losses, LPIPS's backbone) comes from torchvision and the scoring Inception-v3 from torch-fidelity:
their files sit in the torch hub cache when a user once downloaded them, and they are read with the safe
unpickler (``weights_only=True``: nothing in a file can run code when loaded). torchvision's networks expect
RGB normalized with ImageNet's statistics.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "hub_checkpoint_path", "load_torch_file"]

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
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise ValueError(f"{path}: not a readable {what} ({type(error).__name__})") from None

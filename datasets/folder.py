"""Any plain folder of photos, and the layout checks every dataset reader shares.

``folder:DIR`` takes every image under ``DIR`` (split ``all``, recursive, sorted by relative path); splits
``train`` / ``val`` / ``test`` take the sub-folder of that name, which must then exist.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pconv.core.files import list_images

__all__ = ["SPLITS", "image_files", "require_folder", "require_images", "require_split"]

SPLITS = ("all", "train", "val", "test")


def require_split(dataset: str, split: str, splits: Sequence[str]) -> None:
    """ValueError unless ``split`` is one of the dataset's ``splits``."""
    if split not in splits:
        raise ValueError(f"{dataset} has no split {split!r}; choose one of {', '.join(splits)}")


def require_folder(path: Path, what: str) -> Path:
    """``path`` if it is a folder, else a FileNotFoundError naming it and what it should hold."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path}: no such folder ({what})")
    return path


def require_images(files: list[Path], folder: Path, what: str) -> list[Path]:
    """``files`` unless empty, else a ValueError naming the folder."""
    if not files:
        raise ValueError(f"{folder}: no image files found ({what}; looked for .jpg, .png, ...)")
    return files


def image_files(root: Path, *, split: str = "all") -> list[Path]:
    """Every image under ``root`` (split ``all``) or under ``root/split``; sorted, never empty."""
    require_split("folder", split, SPLITS)
    folder = require_folder(Path(root) if split == "all" else Path(root) / split, f"images of split {split}")
    return require_images(list_images(folder), folder, "an image folder")

"""ImageNet (ILSVRC2012) as a source of photos; inpainting needs no labels.

Layout of ``ROOT`` (as the official archives unpack)::

    ROOT/train/n01440764/n01440764_10026.JPEG   one sub-folder per class (1,281,167 images)
    ROOT/val/ILSVRC2012_val_00000001.JPEG       flat, or in class sub-folders after the usual valprep
    ROOT/test/ILSVRC2012_test_00000001.JPEG     flat (100,000 images)

The original splits are kept: ``train``, ``val`` (50,000) and ``test``.
"""

from __future__ import annotations

from pathlib import Path

from pconv.core.files import list_images
from pconv.datasets.folder import require_folder, require_images, require_split

__all__ = ["SPLITS", "image_files"]

SPLITS = ("train", "val", "test")


def image_files(root: Path, *, split: str) -> list[Path]:
    """The split's image files, sorted by path relative to the split folder; never empty."""
    require_split("imagenet", split, SPLITS)
    folder = require_folder(Path(root) / split, f"ImageNet {split} images, from ILSVRC2012_img_{split}.tar")
    files = list_images(folder)
    if split == "train" and not any(path.parent != folder for path in files):
        raise ValueError(f"{folder}: expected one sub-folder per class (n01440764/, ...) holding the images")
    return require_images(files, folder, f"ImageNet {split} split")

"""Photo datasets with their standard splits, and the pairing of test photos with benchmark masks.

A dataset is named by a spec ``NAME:ROOT[:SPLIT]``, e.g. ``places2:/data/places365:val``,
``imagenet:/data/ILSVRC2012:val``, ``celeba-hq:/data/celeba_hq:test`` or ``folder:photos``. ``NAME`` is one
of :data:`DATASETS`; ``SPLIT`` defaults to the split used for testing (:data:`TEST_SPLITS`).

Photos reach models as float32 ``(3, size, size)`` RGB in [0, 1] (:func:`load_image`); masks are
converted to the paper's convention (1 = valid) only where files are read.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import pconv.core  # noqa: F401  (first: it sets OpenCV's pixel limit before any cv2 import)
from pconv.datasets import celeba_hq, folder, imagenet, places2
from pconv.datasets.images import BadImageError, check_image, load_image

__all__ = [
    "DATASETS",
    "SPLITS",
    "TEST_SPLITS",
    "TRAIN_SPLITS",
    "BadImageError",
    "DatasetSpec",
    "check_image",
    "image_files",
    "load_image",
    "parse_spec",
]

_LISTERS: dict[str, Callable[..., list[Path]]] = {
    "imagenet": imagenet.image_files,
    "places2": places2.image_files,
    "celeba-hq": celeba_hq.image_files,
    "folder": folder.image_files,
}
DATASETS = tuple(_LISTERS)
SPLITS: dict[str, tuple[str, ...]] = {
    "imagenet": imagenet.SPLITS,
    "places2": places2.SPLITS,
    "celeba-hq": celeba_hq.SPLITS,
    "folder": folder.SPLITS,
}
TEST_SPLITS = {"imagenet": "val", "places2": "val", "celeba-hq": "test", "folder": "all"}
"""Split scored by default: ImageNet's and Places2's test labels are withheld, so papers use val."""
TRAIN_SPLITS = {"imagenet": "train", "places2": "train", "celeba-hq": "train", "folder": "all"}
"""Split trained on by default."""


class DatasetSpec(NamedTuple):
    """A parsed ``NAME:ROOT[:SPLIT]``; unpacks as ``name, root, split``."""

    name: str
    root: Path
    split: str


def _require_dataset(dataset: str) -> None:
    if dataset not in _LISTERS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")


def image_files(dataset: str, root: Path, *, split: str) -> list[Path]:
    """The image files of ``dataset``'s ``split`` under ``root``: sorted, deterministic, never empty.

    A missing or malformed folder raises a one-line FileNotFoundError / ValueError naming the path and
    what is missing. Files are not opened here; bad ones show up when loaded (:func:`load_image`).
    """
    _require_dataset(dataset)
    return _LISTERS[dataset](Path(root), split=split)


def parse_spec(spec: str) -> DatasetSpec:
    """Parse ``NAME:ROOT[:SPLIT]`` (see the module docstring); the root is not checked here."""
    name, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise ValueError(f"dataset spec {spec!r} is not NAME:ROOT[:SPLIT] (e.g. places2:/data/places365:val)")
    _require_dataset(name)
    root, sep, split = rest.rpartition(":")
    if not sep or split not in SPLITS[name]:
        root, split = rest, TEST_SPLITS[name]
    return DatasetSpec(name, Path(root), split)

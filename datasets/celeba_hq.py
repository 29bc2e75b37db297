"""CelebA-HQ (30,000 faces at 1024²) with a seeded 27,000 / 3,000 train/test partition kept in a file.

CelebA-HQ ships without a split, so one is drawn: the file names, sorted, are permuted with
``numpy.random.default_rng(seed)`` and the first ``round(n / 10)`` go to ``test`` (3,000 of 30,000), the
rest to ``train``. The partition depends only on the names and the seed, so it can be recomputed
anywhere; :func:`write_split` also writes it as JSON so it can be shared and reused. A split file
``ROOT/celeba_hq_split.json``, when present, is used instead of recomputing (``pconv train`` copies the
one it used into its run folder).

Layout: ``ROOT/*.jpg|png`` (flat; e.g. ``00000.jpg`` … ``29999.jpg`` or ``imgHQ00000.png``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pconv.core.files import atomic_write_text, list_images
from pconv.datasets.folder import require_folder, require_images, require_split

__all__ = ["SPLITS", "SPLIT_NAME", "TEST_FRACTION", "image_files", "make_split", "read_split", "write_split"]

SPLITS = ("train", "test")
SPLIT_NAME = "celeba_hq_split.json"
TEST_FRACTION = 0.1


def make_split(names: Sequence[str], *, seed: int = 0) -> dict[str, Any]:
    """Partition file names into ``train`` / ``test`` (each sorted, disjoint, covering all names).

    Returns ``{"dataset", "seed", "count", "train": [...], "test": [...]}``, the split file's content.
    """
    ordered = sorted(names)
    if len(set(ordered)) != len(ordered):
        raise ValueError("CelebA-HQ file names must be unique to be split")
    test_count = round(len(ordered) * TEST_FRACTION)
    order = np.random.default_rng(seed).permutation(len(ordered))
    test = sorted(ordered[i] for i in order[:test_count])
    train = sorted(ordered[i] for i in order[test_count:])
    return {"dataset": "celeba-hq", "seed": seed, "count": len(ordered), "train": train, "test": test}


def _names(root: Path) -> list[str]:
    folder = require_folder(Path(root), "CelebA-HQ images")
    files = require_images(list_images(folder, recursive=False), folder, "CelebA-HQ, a flat folder")
    return [path.name for path in files]


def write_split(root: Path, path: Path, *, seed: int = 0) -> dict[str, Any]:
    """Draw the partition of the images in ``root`` and write it to ``path`` as JSON (atomically)."""
    split = make_split(_names(root), seed=seed)
    atomic_write_text(path, json.dumps(split, indent=1) + "\n")
    return split


def read_split(path: Path) -> dict[str, Any]:
    """Read a split file written by :func:`write_split`; ValueError if it is not one."""
    try:
        split = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not a CelebA-HQ split file ({error.msg})") from None
    except RecursionError:
        raise ValueError(f"{path}: not a CelebA-HQ split file (JSON nested too deeply)") from None
    if not isinstance(split, dict) or not all(isinstance(split.get(part), list) for part in SPLITS):
        raise ValueError(f"{path}: not a CelebA-HQ split file (needs 'train' and 'test' lists)")
    return split


def image_files(root: Path, *, split: str, seed: int = 0) -> list[Path]:
    """The split's files, sorted; from ``ROOT/celeba_hq_split.json`` if present, else drawn with ``seed``."""
    require_split("celeba-hq", split, SPLITS)
    root = Path(root)
    names = _names(root)
    stored = root / SPLIT_NAME
    partition = read_split(stored) if stored.is_file() else make_split(names, seed=seed)
    present = set(names)
    missing = [name for name in partition[split] if name not in present]
    if missing:
        raise ValueError(
            f"{root}: {len(missing)} file(s) of the {split} split are missing, e.g. {missing[0]}"
        )
    return [root / name for name in partition[split]]

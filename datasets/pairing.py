"""Test pairs: each benchmark mask gets a photo, "randomly assigning masks to images without replacement".

Every mask is used exactly once, so per-bin counts are the benchmark's. Photos are drawn without
replacement from a seeded permutation; when there are fewer photos than masks, a fresh permutation starts
each time the photos run out (each photo is then used ⌊M/N⌋ or ⌈M/N⌉ times, never twice in one round).
Both lists are sorted first, so the pairs depend only on the two sets of names and the seed, not on
listing order. Save the pairs with :func:`save_assignment` and score every method on that file: all
methods then see identical image-mask pairs. Store names relative to the dataset root and the benchmark
folder so the file can be shared.

Assignment file: JSON ``{"format": 1, "meta": {...}, "pairs": [[image, mask], ...]}`` in mask order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from maskgen.fileio import atomic_write_text

__all__ = ["ASSIGNMENT_FORMAT", "assign_masks", "load_assignment", "save_assignment"]

ASSIGNMENT_FORMAT = 1


def _sorted_unique(names: Sequence[str], what: str) -> list[str]:
    ordered = sorted(str(name) for name in names)
    if not ordered:
        raise ValueError(f"cannot pair: no {what} given")
    duplicate = next((a for a, b in itertools.pairwise(ordered) if a == b), None)
    if duplicate is not None:
        raise ValueError(f"cannot pair without replacement: {what} {duplicate!r} is listed twice")
    return ordered


def assign_masks(images: Sequence[str], masks: Sequence[str], *, seed: int) -> list[tuple[str, str]]:
    """Pair every mask with a photo drawn without replacement; returns ``(image, mask)`` in mask order."""
    image_list = _sorted_unique(images, "images")
    mask_list = _sorted_unique(masks, "masks")
    rng = np.random.default_rng(seed)
    rounds = -(-len(mask_list) // len(image_list))
    order = np.concatenate([rng.permutation(len(image_list)) for _ in range(rounds)])
    return [(image_list[int(i)], mask) for i, mask in zip(order, mask_list, strict=False)]


def save_assignment(path: Path, pairs: Sequence[tuple[str, str]], *, meta: dict[str, Any]) -> None:
    """Write ``pairs`` and ``meta`` (seed, dataset spec, benchmark, ...: JSON values) atomically."""
    document = {"format": ASSIGNMENT_FORMAT, "meta": meta, "pairs": [[str(i), str(m)] for i, m in pairs]}
    atomic_write_text(path, json.dumps(document, indent=0, sort_keys=True) + "\n")


def load_assignment(path: Path) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Read an assignment file; returns ``(pairs, meta)``. ValueError if ``path`` is not one."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such assignment file")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"{path}: not an assignment file ({error.msg})") from None
    if not isinstance(document, dict) or document.get("format") != ASSIGNMENT_FORMAT:
        raise ValueError(f"{path}: not an assignment file of format {ASSIGNMENT_FORMAT}")
    pairs = document.get("pairs")
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(name, str) for name in pair)
        for pair in pairs
    ):
        raise ValueError(f"{path}: 'pairs' must be a list of [image, mask] name pairs")
    return [(image, mask) for image, mask in pairs], dict(document.get("meta", {}))

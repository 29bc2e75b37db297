"""Result grids like the paper's Fig. 5: per bin, rows of pairs, columns input, each method, ground truth.

While scoring, the evaluator keeps the full-size images of a few pairs per bin and split as PNGs
(``OUT/grids/samples/<method>/<pair>.png``, plus ``input`` with holes painted white and ``ground_truth``;
``--grid-pairs`` pairs per bin and split, so ``12 × grid-pairs × (methods + 2)`` files); the report turns
them into ``OUT/grids/binK.png`` (K = 1 … 6 as in the paper), rows N pairs first, then B,
tiles at most :data:`TILE` px wide, with a header naming each column. Reading only these PNGs, a merge
draws the same grids as a single run without touching the dataset again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pconv.core.files import atomic_write_bytes
from pconv.core.masks import encode_image_png, encode_png
from pconv.core.progress import progress_bar
from pconv.evaluator.methods import method_slug
from torch import Tensor

__all__ = [
    "GRIDS_DIR",
    "INPUT",
    "SAMPLES_DIR",
    "TARGET",
    "TILE",
    "grid_pairs",
    "sample_path",
    "save_sample",
    "write_grids",
]

GRIDS_DIR = "grids"
SAMPLES_DIR = f"{GRIDS_DIR}/samples"
INPUT = "input"
TARGET = "ground truth"
TILE = 256
_HEADER = 28


def grid_pairs(cells: Sequence[tuple[int, str]], *, per_cell: int) -> list[int]:
    """The first ``per_cell`` pair indices of every (bin, split), given each pair's ``(bin, split)``."""
    taken: dict[tuple[int, str], int] = {}
    chosen = []
    for pair, cell in enumerate(cells):
        if taken.get(cell, 0) < per_cell:
            taken[cell] = taken.get(cell, 0) + 1
            chosen.append(pair)
    return chosen


def sample_path(out: Path, name: str, pair: int) -> Path:
    """Where the grid sample of ``name`` (a method, INPUT or TARGET) for ``pair`` is kept."""
    return Path(out) / SAMPLES_DIR / method_slug(name) / f"{pair:05d}.png"


def save_sample(out: Path, name: str, pair: int, image: Tensor) -> None:
    """Keep ``image`` ``(3, H, W)`` float RGB in [0, 1] as the sample of ``name`` for ``pair`` (8-bit PNG)."""
    atomic_write_bytes(sample_path(out, name, pair), encode_image_png(image))


def _tile(path: Path, size: int) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"{path}: sample image missing; re-run the evaluation to redraw the grids")
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA) if image.shape[0] != size else image


def _header(names: Sequence[str], size: int) -> np.ndarray:
    strip = np.full((_HEADER, size * len(names), 3), 255, np.uint8)
    for column, name in enumerate(names):
        room = size // 9  # characters that fit a tile at this font size
        text = name if len(name) <= room else ("..." + name[-(room - 3) :] if room > 3 else name[:room])
        cv2.putText(
            strip,
            text,
            (column * size + 4, _HEADER - 9),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    return strip


def write_grids(
    out: Path,
    records: Sequence[Mapping[str, Any]],
    methods: Sequence[str],
    *,
    bins: Sequence[int],
    per_cell: int,
    progress: bool = True,
) -> list[Path]:
    """Draw ``OUT/grids/binK.png`` for each bin index in ``bins`` from the saved samples; returns the paths.

    ``records``: any one method's records of the scored pairs in pair order (``pair``, ``bin`` and
    ``split`` pick rows).
    """
    indices = grid_pairs([(int(r["bin"]), str(r["split"])) for r in records], per_cell=per_cell)
    by_pair = {int(records[index]["pair"]): records[index] for index in indices}
    chosen = list(by_pair)
    if not chosen:
        return []
    names = [INPUT, *methods, TARGET]
    first = cv2.imread(str(sample_path(out, INPUT, chosen[0])), cv2.IMREAD_COLOR)
    size = min(TILE, first.shape[0]) if first is not None else TILE
    written = []
    for index in progress_bar(bins, desc="grids", unit="bin", enabled=progress):
        rows = [
            pair
            for split in ("N", "B")
            for pair in chosen
            if int(by_pair[pair]["bin"]) == index and by_pair[pair]["split"] == split
        ]
        if not rows:
            continue
        body = [
            np.concatenate([_tile(sample_path(out, name, pair), size) for name in names], 1) for pair in rows
        ]
        grid = np.concatenate([_header(names, size), *body], 0)
        path = Path(out) / GRIDS_DIR / f"bin{index + 1}.png"
        atomic_write_bytes(path, encode_png(grid))
        written.append(path)
    return written

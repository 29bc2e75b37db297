"""Result grids like the paper's Fig. 5: per bin, rows of pairs, columns input, each method, ground truth.

While scoring, the evaluator keeps the full-size images of a few pairs per bin and split as PNGs
(``OUT/grids/samples/<method>/<pair>.png``, plus ``input`` with holes painted white and ``ground_truth``;
``--grid-pairs`` pairs per bin and split, so ``12 × grid-pairs × (methods + 2)`` files); the report turns
them into ``OUT/grids/binK.png`` (K = 1 … 6 as in the paper), rows N pairs first, then B,
tiles at most :data:`TILE` px wide, under a title naming the bin and a header naming each column; each
row is labelled with its pair, split and hole ratio, each method's tile with that pair's PSNR (from the
per-pair results). Reading only these PNGs and the results, a merge
draws the same grids as a single run without touching the dataset again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from torch import Tensor

from pconv.core.files import atomic_write_bytes
from pconv.core.masks import encode_image_png, encode_png
from pconv.core.progress import progress_bar
from pconv.evaluator.methods import method_slug
from pconv.maskgen.sets.bins import SPLITS

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
_LABEL = 110
"""Width in px of the row-label column on the left of every grid."""


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


def _text(image: np.ndarray, text: str, origin: tuple[int, int], *, scale: float = 0.45) -> None:
    """Black text on ``image`` (BGR) at ``origin`` (x, baseline y), drawn in place."""
    cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1, cv2.LINE_AA)


def _fit(text: str, width: int) -> str:
    room = width // 9  # characters that fit this many pixels at the font size used
    return text if len(text) <= room else ("..." + text[-(room - 3) :] if room > 3 else text[:room])


def _header(names: Sequence[str], size: int, title: str) -> np.ndarray:
    """The grid's title line, then each column's name over its tile (the first column holds row labels)."""
    strip = np.full((2 * _HEADER, _LABEL + size * len(names), 3), 255, np.uint8)
    _text(strip, title[: strip.shape[1] // 10], (4, _HEADER - 9), scale=0.5)
    for column, name in enumerate(names):
        _text(strip, _fit(name, size), (_LABEL + column * size + 4, 2 * _HEADER - 9))
    return strip


def _row(tiles: Sequence[np.ndarray], label: Sequence[str], notes: Sequence[str]) -> np.ndarray:
    """A row: its label lines on the left, then the tiles, each with its note (the pair's PSNR) below."""
    size = tiles[0].shape[0]
    row = np.full((size + _HEADER, _LABEL + size * len(tiles), 3), 255, np.uint8)
    for line, text in enumerate(label):
        _text(row, text, (4, 20 + 18 * line))
    for column, (tile, note) in enumerate(zip(tiles, notes, strict=True)):
        row[:size, _LABEL + column * size : _LABEL + (column + 1) * size] = tile
        _text(row, _fit(note, size), (_LABEL + column * size + 4, size + _HEADER - 9))
    return row


def write_grids(
    out: Path,
    records: Mapping[str, Sequence[Mapping[str, Any]]],
    methods: Sequence[str],
    *,
    bins: Sequence[tuple[int, str]],
    per_cell: int,
    progress: bool = True,
) -> list[Path]:
    """Draw ``OUT/grids/binK.png`` for each ``(index, label)`` of ``bins`` from the saved samples; returns
    the paths. Each grid is titled with its bin, each row labelled with its split and hole ratio, and each
    method's tile with that pair's PSNR.

    ``records``: per method, its records of the scored pairs in pair order (``pair``, ``bin``, ``split``,
    ``hole_ratio`` and ``psnr``).
    """
    first_method = records[methods[0]]
    indices = grid_pairs([(int(r["bin"]), str(r["split"])) for r in first_method], per_cell=per_cell)
    by_pair = {int(first_method[index]["pair"]): first_method[index] for index in indices}
    psnr = {
        (method, int(record["pair"])): float(record["psnr"])
        for method in methods
        for record in records[method]
    }
    chosen = list(by_pair)
    if not chosen:
        return []
    names = [INPUT, *methods, TARGET]
    first = cv2.imread(str(sample_path(out, INPUT, chosen[0])), cv2.IMREAD_COLOR)
    size = min(TILE, first.shape[0]) if first is not None else TILE
    written = []
    for index, label in progress_bar(bins, desc="grids", unit="bin", enabled=progress):
        rows = [
            pair
            for split in SPLITS
            for pair in chosen
            if int(by_pair[pair]["bin"]) == index and by_pair[pair]["split"] == split
        ]
        if not rows:
            continue
        body = [
            _row(
                [_tile(sample_path(out, name, pair), size) for name in names],
                [
                    f"pair {pair}",
                    f"split {by_pair[pair]['split']}",
                    f"hole {by_pair[pair]['hole_ratio']:.1%}",
                ],
                ["", *(f"{psnr[(m, pair)]:.2f}" for m in methods), ""],
            )
            for pair in rows
        ]
        title = f"bin {index + 1}, hole ratio {label}: N rows, then B; PSNR (dB) under each method"
        grid = np.concatenate([_header(names, size, title), *body], 0)
        path = Path(out) / GRIDS_DIR / f"bin{index + 1}.png"
        atomic_write_bytes(path, encode_png(grid))
        written.append(path)
    return written

"""Hole-ratio bins and the border split: the one place that decides which bin a mask belongs to.

The benchmark builder, ``pconv masks stats`` / ``bin`` and the evaluator all call :func:`mask_stats`
(or the functions it is made of), so a mask can never be filed under one bin when built and another
when scored.

* **Bins** follow the paper: six intervals of the hole ratio (hole pixels / all pixels), open below and
  closed above: (0.01,0.1], (0.1,0.2], ..., (0.5,0.6]. The edges are data (:data:`BIN_EDGES`) and are
  written into every benchmark's manifest and HDF5 attributes.
* **Border split** follows NVIDIA's release: **N** when no hole pixel lies within ``border`` px of the
  image border, **B** when at least one does. The distance of a pixel at (row, col) in an ``H x W`` image
  to the border is ``min(row, col, H-1-row, W-1-col)``: 0 on the outermost ring, so "within 50 px" means a
  distance below 50 (rows 0..49 are the band).
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = [
    "BIN_EDGES",
    "DEFAULT_BORDER",
    "DEFAULT_PER_BIN",
    "DEFAULT_SET_SIZE",
    "MAX_PER_BIN",
    "MAX_SET_SIZE",
    "MIN_SET_SIZE",
    "SPLITS",
    "BorderSplit",
    "MaskStats",
    "bin_bounds",
    "bin_index",
    "border_distance",
    "border_split",
    "check_edges",
    "mask_stats",
]

BIN_EDGES: tuple[float, ...] = (0.01, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6)
"""Hole-ratio bin edges of the paper's Table 1: bin i is the interval (edges[i], edges[i+1]]."""

DEFAULT_BORDER = 50
"""Width in px of the border band that separates N from B masks (NVIDIA's 50 px at 512 x 512)."""

DEFAULT_SET_SIZE = 512
"""Mask side in px of a mask set unless asked otherwise: the paper's 512 x 512."""
MIN_SET_SIZE = 8
MAX_SET_SIZE = 4096
"""Largest mask side of a mask set: a worker holds a few float copies of a mask while making it."""

DEFAULT_PER_BIN = 1000
"""Masks per bin and split of the benchmark unless asked otherwise: NVIDIA's 12,000 in all."""
MAX_PER_BIN = 100_000
"""Most masks per bin and split of a benchmark (1.2 million in all)."""

BorderSplit = Literal["N", "B"]
SPLITS: tuple[BorderSplit, BorderSplit] = ("N", "B")
"""The two border splits in benchmark order: inside each bin first the N masks, then the B masks."""


def check_edges(edges: Sequence[float]) -> tuple[float, ...]:
    """Validate bin edges: at least two, strictly increasing, inside [0, 1]. Returns them as a tuple."""
    values = tuple(float(edge) for edge in edges)
    if len(values) < 2 or any(b <= a for a, b in itertools.pairwise(values)):
        raise ValueError(f"bin edges must be at least two strictly increasing numbers, got {list(values)}")
    if values[0] < 0 or values[-1] > 1:
        raise ValueError(f"bin edges must lie in [0, 1], got {list(values)}")
    return values


def bin_index(hole_ratio: float, edges: Sequence[float] = BIN_EDGES) -> int | None:
    """The bin holding ``hole_ratio`` (0-based), or None when it lies outside every bin.

    Intervals are open below and closed above, so 0.1 belongs to (0.01,0.1] and 0.01 to no bin.
    """
    position = bisect.bisect_left(edges, hole_ratio) - 1
    return position if 0 <= position < len(edges) - 1 else None


def bin_bounds(index: int, edges: Sequence[float] = BIN_EDGES) -> tuple[float, float]:
    """``(low, high)`` of bin ``index``: ratios r with low < r <= high."""
    if not 0 <= index < len(edges) - 1:
        raise ValueError(f"bin index must be in 0..{len(edges) - 2}, got {index}")
    return float(edges[index]), float(edges[index + 1])


def border_distance(hole: np.ndarray) -> int:
    """Smallest distance in px from a hole pixel to the image border.

    Defined as the minimum over hole pixels (row, col) of ``min(row, col, H-1-row, W-1-col)``, so a hole
    on the outermost ring has distance 0. A mask without holes returns ``max(H, W)``, farther than any
    pixel can be, so it never counts as touching the border.

    Shape: ``hole`` is ``(H, W)`` bool, True = hole.
    """
    if hole.ndim != 2:
        raise ValueError(f"a hole map must be 2-D, got shape {hole.shape}")
    height, width = hole.shape
    rows = np.flatnonzero(hole.any(axis=1))
    if rows.size == 0:
        return max(height, width)
    cols = np.flatnonzero(hole.any(axis=0))
    return int(min(rows[0], cols[0], height - 1 - rows[-1], width - 1 - cols[-1]))


def _split(distance: int, border: int, shape: tuple[int, ...]) -> BorderSplit:
    """B when a hole pixel lies in the band; the no-hole sentinel never does, whatever ``border``."""
    return "B" if distance < min(border, max(shape)) else "N"


def border_split(hole: np.ndarray, border: int = DEFAULT_BORDER) -> BorderSplit:
    """``"B"`` when a hole pixel lies within ``border`` px of the image border, else ``"N"``."""
    return _split(border_distance(hole), border, hole.shape)


@dataclass(frozen=True)
class MaskStats:
    """What the benchmark needs to know about one mask.

    ``bin`` is None when the hole ratio lies outside every bin.
    """

    hole_ratio: float
    border_distance: int
    bin: int | None
    split: BorderSplit


def mask_stats(
    hole: np.ndarray, *, border: int = DEFAULT_BORDER, edges: Sequence[float] = BIN_EDGES
) -> MaskStats:
    """Hole ratio, border distance, bin and border split of one mask.

    Shape: ``hole`` is ``(H, W)`` bool, True = hole; the ratio is hole pixels / (H * W), in [0, 1].
    """
    if hole.dtype != np.bool_:
        raise ValueError(f"a hole map must be bool, got {hole.dtype}")
    ratio = float(np.count_nonzero(hole)) / hole.size
    distance = border_distance(hole)
    return MaskStats(
        hole_ratio=ratio,
        border_distance=distance,
        bin=bin_index(ratio, edges),
        split=_split(distance, border, hole.shape),
    )

"""Building the binned test benchmark (the paper's 12,000 masks); its files are read and named by
:mod:`pconv.maskgen.sets.bench_format`.

``build_benchmark`` turns the **test** split of a raw pool into ``6 bins x 2 splits x per_bin`` masks in
NVIDIA's order: ``masks/00000.png ...`` in blocks of ``2 * per_bin`` per bin in ascending ratio order,
each block first its N masks (no hole within ``border`` px of the edge: holes clipped to a hole-free
frame, as NVIDIA's N masks are), then its B masks (at least one hole pixel in that band). See
:mod:`pconv.maskgen.sets.maskset` for the folder layout, resume and determinism,
:mod:`pconv.maskgen.sets.augment` for how a
mask is aimed at its bin, :mod:`pconv.maskgen.sets.bins` for the bin and border rules.

Mask ``i`` lies in bin ``b = i // (2 * per_bin)``, split ``N`` when ``i % (2 * per_bin) < per_bin``, and
its ``attempt``-th try draws from ``numpy.random.default_rng([seed, b, split, k, attempt])`` (``k`` its
position in the block half, split 0 = N, 1 = B); the manifest records the attempt that succeeded, so a
row alone regenerates its mask.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from pconv.core.progress import progress_message
from pconv.core.workers import default_workers
from pconv.maskgen.raw.pool import Split
from pconv.maskgen.sets.augment import (
    AugmentConfig,
    component_floor,
    magnification,
    raw_limit,
    sample_in_range,
)
from pconv.maskgen.sets.bench_format import BENCH_COLUMNS, bin_label
from pconv.maskgen.sets.bins import (
    BIN_EDGES,
    DEFAULT_BORDER,
    DEFAULT_PER_BIN,
    DEFAULT_SET_SIZE,
    MAX_PER_BIN,
    MAX_SET_SIZE,
    MIN_SET_SIZE,
    SPLITS,
    bin_bounds,
    check_edges,
    mask_stats,
)
from pconv.maskgen.sets.maskset import Made, RawSource, drawn_row, finished_set, write_mask_set

__all__ = ["BenchRecipe", "build_benchmark"]

DENSITY_WINDOW = 0.4
"""Share of the test raw masks, by hole-ratio rank, that a bin draws its first tries from."""
WINDOW_TRIES = 20
"""Tries of a mask among its bin's raw masks of matching density before it draws from all of them."""
CELL_DILATION: dict[str, tuple[tuple[float, int, int], ...]] = {
    "N": ((0.055, 4, 6), (0.15, 4, 8), (0.25, 6, 10), (0.35, 9, 13), (0.45, 10, 13), (0.55, 18, 24)),
    "B": ((0.055, 4, 7), (0.15, 4, 7), (0.25, 6, 10), (0.35, 6, 10), (0.45, 9, 14), (0.55, 23, 24)),
}
"""Dilation radii (output px at 512, scaled with the size) a cell tries first, by hole ratio: NVIDIA's
strokes widen with the ratio (5.8 px at 256 in (0.01,0.1] to 29.4 in (0.5,0.6] N), so each cell prefers
the radii that give its stroke width, and the raw masks and windows that reach its ratio with them. Bins
between the listed ratios interpolate; after :data:`PREFERRED_TRIES` tries a mask takes any radius of the
augmentation's range, so a pool the preferred radii cannot serve still fills every bin."""
B_RANK_FACTOR = 0.8
"""B masks start from raw masks somewhat sparser than their bin's rank: reaching (0.4,0.6] with the densest
raw masks gave a web of thin strokes (roughness 1.33 times NVIDIA's in (0.5,0.6] B), where NVIDIA's are a
few thick ones; sparser raw masks reach the ratio with the wider radii of :data:`CELL_DILATION`."""
PREFERRED_TRIES = 60
"""Tries of a mask with its cell's preferred radii before it takes any radius of the range."""


@functools.lru_cache(maxsize=64)
def _first_choices(
    seed: int, block: int, blocks: int, split: int, ranked: tuple[int, ...], factor: float = 1.0
) -> np.ndarray:
    """The raw masks a bin × split tries first, in a seeded order: mask k tries the one at ``k * len /
    per_bin``.

    ``ranked`` lists the raw masks from the sparsest to the densest (raw hole ratio). Bin ``block`` of
    ``blocks`` takes the :data:`DENSITY_WINDOW` share of them centred on rank (block + ½) / blocks ×
    ``factor`` (at most the densest; see :meth:`BenchRecipe.rank_factor`), so sparse raw masks feed the
    low bins and dense ones the high bins: a high bin then needs less dilation (strokes stay strokes
    instead of swelling into blobs), and a low bin no longer retries its way onto the few raw masks
    sparse enough for it (no raw mask used far more than others). Spreading a cell's first tries over
    distinct raw masks keeps near-duplicates rare; retries draw at random, first among the same window
    (:data:`WINDOW_TRIES`), then among all. A pure function of its arguments: same bytes for any worker
    count."""
    count = len(ranked)
    width = max(1, round(count * DENSITY_WINDOW))
    start = round(min(count, (block + 0.5) * count / blocks * factor) - width / 2)
    start = min(max(0, start), count - width)
    window = np.asarray(ranked[start : start + width])
    return window[np.random.default_rng([seed, block, split, count]).permutation(width)]


@dataclass(frozen=True)
class BenchRecipe:
    """The benchmark's parameters; ``attempts`` is the retry budget per mask before a bin counts as
    impossible for the pool."""

    per_bin: int = DEFAULT_PER_BIN
    size: int = DEFAULT_SET_SIZE
    border: int = DEFAULT_BORDER
    seed: int = 0
    edges: tuple[float, ...] = BIN_EDGES
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    attempts: int = 500
    kind: ClassVar[str] = "benchmark"
    part: ClassVar[Split] = "test"
    unique: ClassVar[bool] = True

    def __post_init__(self) -> None:
        for name in ("per_bin", "size", "border", "seed", "attempts"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValueError(f"{name} must be a whole number, got {value!r}")
        object.__setattr__(self, "edges", check_edges(self.edges))
        if not 1 <= self.per_bin <= MAX_PER_BIN:
            raise ValueError(f"per-bin count must be between 1 and {MAX_PER_BIN}, got {self.per_bin}")
        if not MIN_SET_SIZE <= self.size <= MAX_SET_SIZE:
            raise ValueError(
                f"mask size must be between {MIN_SET_SIZE} and {MAX_SET_SIZE} px, got {self.size}"
            )
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")
        if self.attempts < 1:
            raise ValueError(f"attempts must be at least 1, got {self.attempts}")
        if not 1 <= self.border < self.size / 2:
            raise ValueError(
                f"border must be between 1 and half the mask size ({self.size}), got {self.border}"
            )
        room = (self.size - 2 * self.border) ** 2 / self.size**2
        if room <= self.edges[-2]:
            raise ValueError(
                f"bin {bin_label(len(self.edges) - 2, self.edges)} N is impossible: a "
                f"{self.border}-px hole-free frame leaves holes at most {room:.3f} of a "
                f"{self.size}-px mask; use a smaller --border or a larger --size"
            )

    @property
    def count(self) -> int:
        return (len(self.edges) - 1) * len(SPLITS) * self.per_bin

    @property
    def columns(self) -> tuple[str, ...]:
        return BENCH_COLUMNS

    def slot(self, index: int) -> tuple[int, int, int]:
        """``(bin, split, k)`` of mask ``index``: split 0 = N, 1 = B; k = position inside that half block."""
        block, rest = divmod(index, len(SPLITS) * self.per_bin)
        split, k = divmod(rest, self.per_bin)
        return block, split, k

    def describe(self) -> dict[str, Any]:
        return {
            "per_bin": self.per_bin,
            "size": self.size,
            "border": self.border,
            "seed": self.seed,
            "bin_edges": list(self.edges),
            "dilation": list(self.augment.dilation),
            "max_angle": self.augment.max_angle,
            "kernel": self.augment.kernel,
            "source_width": self.augment.source_width,
            "attempts": self.attempts,
            "density_window": DENSITY_WINDOW,
            "n_density_factor": round(self.frame_factor, 6),
            "window_tries": WINDOW_TRIES,
            "min_component": component_floor(self.augment, self.size),
            "b_rank_factor": B_RANK_FACTOR,
            "preferred_dilation": {
                split: [list(self.preferred_dilation(block, split)) for block in range(len(self.edges) - 1)]
                for split in SPLITS
            },
            "preferred_tries": PREFERRED_TRIES,
        }

    @property
    def frame_factor(self) -> float:
        """Full area / area inside the hole-free frame (1.54 at 512 px with a 50-px border)."""
        return self.size**2 / (self.size - 2 * self.border) ** 2

    def rank_factor(self, split: str) -> float:
        """What a bin's density rank is multiplied by before it picks its first raw masks:
        :data:`B_RANK_FACTOR` for B masks, :attr:`frame_factor` for N masks, whose holes fill only the
        inside of the frame and so need denser raw masks for the same ratio. A heuristic on ranks, chosen
        by measurement: side by side on the default benchmark, N thickness 13.2 → 12.9 px with no raw mask
        used more often; on the accumulated opencv-doc clips 14.7 → 13.7 px."""
        return self.frame_factor if split == "N" else B_RANK_FACTOR

    def preferred_dilation(self, block: int, split: str) -> tuple[int, int]:
        """The radii bin ``block``'s ``split`` masks try first (:data:`CELL_DILATION`), interpolated at the
        bin's middle ratio, scaled to the mask size and kept inside the augmentation's range."""
        low, high = bin_bounds(block, self.edges)
        middle = (low + high) / 2
        table = CELL_DILATION[split]
        ratios = [row[0] for row in table]
        factor = self.size / 512
        first = round(float(np.interp(middle, ratios, [row[1] for row in table])) * factor)
        last = round(float(np.interp(middle, ratios, [row[2] for row in table])) * factor)
        smallest, largest = self.augment.dilation
        first = min(max(first, smallest), largest)
        return first, min(max(last, first), largest)

    def probe_indices(self) -> list[int]:
        return [
            block * len(SPLITS) * self.per_bin + split * self.per_bin
            for block in range(len(self.edges) - 1)
            for split in range(len(SPLITS))
        ]

    def make(self, source: RawSource, index: int, first_attempt: int) -> Made:
        """``index``: aimed at its bin and split by :func:`~pconv.maskgen.sets.augment.sample_in_range`."""
        block, split, k = self.slot(index)
        low, high = bin_bounds(block, self.edges)
        clip = self.border if SPLITS[split] == "N" else 0
        blocks, factor = len(self.edges) - 1, self.rank_factor(SPLITS[split])
        choices = _first_choices(self.seed, block, blocks, split, source.ranked_by_ratio, factor)
        first_choice = int(choices[k * len(choices) // self.per_bin])
        preferred = self.preferred_dilation(block, SPLITS[split])
        for attempt in range(first_attempt, first_attempt + self.attempts):
            rng = np.random.default_rng([self.seed, block, split, k, attempt])
            if attempt == 0:
                number = first_choice
            elif attempt < WINDOW_TRIES:  # raw masks of the right density first, then any
                number = int(choices[rng.integers(len(choices))])
            else:
                number = int(rng.integers(len(source)))
            distance, screen = source.load(number)
            low_radius, high_radius = preferred if attempt < PREFERRED_TRIES else self.augment.dilation
            extra = round(source.peeled(number)) if high_radius == self.augment.dilation[1] else 0
            config = dataclasses.replace(self.augment, dilation=(low_radius, high_radius + extra))
            found = sample_in_range(
                distance,
                screen,
                rng,
                size=self.size,
                low=low,
                high=high,
                clip=clip,
                border=self.border,
                config=config,
            )
            if found is None:
                continue
            hole, params = found
            stats = mask_stats(hole, border=self.border, edges=self.edges)  # the one shared binning rule
            if stats.bin != block or stats.split != SPLITS[split]:
                continue
            drawn = drawn_row(stats, source.records[number], params, seed=self.seed)
            row = {"bin": block, "bin_low": low, "bin_high": high, "split": stats.split, **drawn}
            return Made(hole=hole, row={**row, "attempt": attempt})
        frame = (
            f" inside a {self.border}-px hole-free frame" if clip else f" touching the {self.border}-px band"
        )
        raise ValueError(
            f"cannot fill bin {bin_label(block, self.edges)} {SPLITS[split]}: {self.attempts} "
            f"attempts on {len(source)} test raw masks found no crop and dilation "
            f"({self.augment.dilation[0]}-{self.augment.dilation[1]} px) giving a hole ratio in "
            f"that bin{frame}; the pool lacks {self._lacking(source, low, high)}"
        )

    def _lacking(self, source: RawSource, low: float, high: float) -> str:
        """What the pool misses for (low, high], judged on whole raw masks at the extreme dilations (in raw
        px, as an unrotated window of this size magnifies them)."""
        smallest, largest = [], []
        for number in range(min(len(source), 200)):
            distance, _ = source.load(number)
            scale = magnification(distance.shape, self.size)
            smallest.append(float(np.mean(distance <= raw_limit(self.augment.dilation[0], scale))))
            largest.append(float(np.mean(distance <= raw_limit(self.augment.dilation[1], scale))))
        if max(largest) <= low:
            return f"test masks with denser holes (the densest covers {max(largest):.2f} at full dilation)"
        if min(smallest) > high:
            return (
                f"test masks with sparser or smaller holes (the sparsest covers {min(smallest):.2f} at "
                "the smallest dilation)"
            )
        return "test masks whose holes are spread evenly enough to land in it"


DEFAULT_AUGMENT = AugmentConfig()


def build_benchmark(
    raw: Path,
    out: Path,
    *,
    per_bin: int = DEFAULT_PER_BIN,
    size: int = DEFAULT_SET_SIZE,
    border: int = DEFAULT_BORDER,
    seed: int = 0,
    augment: AugmentConfig = DEFAULT_AUGMENT,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Build the benchmark from the test split of the raw pool ``raw`` into ``out``; return ``out``.

    ``workers`` processes (None = all cores) give byte-identical files whatever their number. A
    benchmark already complete in ``out`` is said to be (with ``progress``) and left as it is.
    """
    recipe = BenchRecipe(per_bin=per_bin, size=size, border=border, seed=seed, augment=augment)
    if not overwrite and finished_set(Path(raw), Path(out), recipe):  # said, not silently redone
        if progress:
            progress_message(f"{out} already holds this benchmark, complete: nothing to do")
        return Path(out)
    return write_mask_set(
        Path(raw),
        Path(out),
        recipe,
        workers=workers or default_workers(),
        overwrite=overwrite,
        progress=progress,
    )

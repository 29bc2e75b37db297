"""Contact sheets of two mask sets side by side, cell by cell (``pconv masks sheets``).

Numbers say how far our masks are from NVIDIA's; only pictures show *how* they differ (outlines of objects
or flow noise, closed loops or scattered strokes). For every bin × split this draws a seeded random
sample of each set's masks, ours in the upper row and the reference's in the lower one, each row captioned
with the set, the cell and its four shape medians. Files, in a new folder written whole or not at all::

    OUT/binK_LOW-HIGH_S.png   one cell: ours above, the reference below
    OUT/overview.png          every cell, in bin order, N before B

Cells empty in both sets are left out; a cell empty in one set shows only the other's row.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pconv.core.files import atomic_write_bytes, refuse_overlap, temporary_name
from pconv.core.masks import encode_png, read_mask_png
from pconv.maskgen.measure.folder import measure_masks
from pconv.maskgen.measure.shapes import GroupSummary
from pconv.maskgen.measure.tables import MaskSetStats, mask_set_stats
from pconv.maskgen.release.figures import contact_sheet, side_by_side
from pconv.maskgen.sets.bench_format import bin_folder_name, bin_label
from pconv.maskgen.sets.bins import BIN_EDGES, DEFAULT_BORDER, SPLITS

__all__ = ["OVERVIEW_NAME", "SheetSet", "cell_row", "compare_sheets", "load_set", "sample_cell"]

OVERVIEW_NAME = "overview.png"


def sample_cell(count: int, per_cell: int, rng: np.random.Generator) -> list[int]:
    """``per_cell`` of ``count`` positions drawn without replacement, in ascending order (all when fewer)."""
    if count <= per_cell:
        return list(range(count))
    return sorted(int(item) for item in rng.choice(count, size=per_cell, replace=False))


def _caption(name: str, label: str, shown: int, total: int, summary: GroupSummary | None) -> str:
    medians = (
        ""
        if summary is None
        else f"; {summary.thickness:.1f} px / {summary.boundary_density:.1f} / {summary.components:.0f} / "
        f"{summary.roughness:.2f}"
    )
    return f"{name} {label}: {shown} of {total}{medians}"


@dataclass(frozen=True)
class SheetSet:
    """One mask set as the sheets need it: where to read its masks, their hole value, and its stats."""

    folder: Path
    hole_value: int
    stats: MaskSetStats


def load_set(
    folder: Path,
    *,
    name: str,
    hole_value: int = 255,
    border: int = DEFAULT_BORDER,
    workers: int | None = None,
    progress: bool = False,
) -> SheetSet:
    """Measure every mask of ``folder`` (bins, splits and medians as ``pconv masks stats`` has them)."""
    measures, thumbnails = measure_masks(
        folder, hole_value=hole_value, border=border, workers=workers, progress=progress
    )
    return SheetSet(Path(folder), hole_value, mask_set_stats(name, measures, thumbnails))


def cell_row(
    mask_set: SheetSet, key: tuple[int, str], per_cell: int, rng: np.random.Generator
) -> np.ndarray | None:
    """The cell's sample as one captioned row of thumbnails, (H, W) uint8; None when the cell is empty."""
    members = [item for item in mask_set.stats.measures if (item.bin, item.split) == key]
    if not members:
        return None
    picked = [members[number] for number in sample_cell(len(members), per_cell, rng)]
    holes = [read_mask_png(mask_set.folder / item.file, hole_value=mask_set.hole_value) for item in picked]
    label = f"{bin_label(key[0], BIN_EDGES)} {key[1]}"
    title = _caption(mask_set.stats.name, label, len(holes), len(members), mask_set.stats.cells[key])
    return contact_sheet(holes, columns=per_cell, title=title)


def compare_sheets(sets: Sequence[SheetSet], out: Path, *, per_cell: int = 8, seed: int = 0) -> list[Path]:
    """Write the sheets of ``sets`` (one row each per cell, in the given order) into the new folder ``out``.

    Each (set, cell) draws its sample from its own generator, seeded by ``(seed, set number, bin, split)``,
    so one set's sample does not depend on the other's size. Returns the files written, overview last.
    """
    if per_cell < 1:
        raise ValueError(f"--per-cell must be at least 1, got {per_cell}")
    out = Path(out)
    refuse_overlap(out, {f"mask set {number + 1}": mask_set.folder for number, mask_set in enumerate(sets)})
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; give a new folder")
    temp = temporary_name(out)
    shutil.rmtree(temp, ignore_errors=True)
    written, cells = [], []
    try:
        temp.mkdir(parents=True)
        for index in range(len(BIN_EDGES) - 1):
            for split_number, split in enumerate(SPLITS):
                rows = [
                    cell_row(
                        mask_set,
                        (index, split),
                        per_cell,
                        np.random.default_rng([seed, number, index, split_number]),
                    )
                    for number, mask_set in enumerate(sets)
                ]
                rows = [row for row in rows if row is not None]
                if not rows:
                    continue
                cell = side_by_side(rows)
                name = f"{bin_folder_name(index, BIN_EDGES)}_{split}.png"
                atomic_write_bytes(temp / name, encode_png(cell))
                written.append(name)
                cells.append(cell)
        if not cells:
            raise ValueError("no mask of either set lies in a bin: nothing to draw")
        atomic_write_bytes(temp / OVERVIEW_NAME, encode_png(side_by_side(cells)))
        written.append(OVERVIEW_NAME)
        if out.exists():
            out.rmdir()
        os.replace(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return [out / name for name in written]

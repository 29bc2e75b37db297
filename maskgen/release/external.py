"""Reading other people's mask sets (``pconv masks stats`` / ``pconv masks bin``).

Any folder of mask images: NVIDIA's released test set (255 = hole), its training masks and Quick Draw
masks (0 = hole), LaMa's masks, ... Folders are searched **recursively** for ``.png .jpg .jpeg .bmp .tif
.tiff .webp`` files, in sorted order of their path. Each image is read with
:func:`pconv.core.files.read_mask_png` (grey, RGB or 16-bit; split at grey level 128; ``hole_value`` names
the convention) and measured with the same :func:`pconv.maskgen.sets.bins.mask_stats` as our benchmark, so
bins and
the N/B split mean exactly the same thing.

``bin_masks`` **copies** the files (links would break when the source moves, and copies can be zipped
and shared) into ``OUT/binK_LOW-HIGH/N|B/<path inside the source folder>``; masks outside every bin go to
``OUT/outside/<path>``; ``OUT/bins.csv`` lists every file with its measurements and destination. ``OUT``
is built under a temporary name and renamed, so it is either complete or absent.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from pconv.core.files import atomic_write_text
from pconv.core.masks import read_mask_png
from pconv.core.progress import progress_bar
from pconv.maskgen.sets.bins import BIN_EDGES, DEFAULT_BORDER, SPLITS, bin_folder_name, bin_label, mask_stats

__all__ = [
    "IMAGE_SUFFIXES",
    "MaskMeasure",
    "bin_masks",
    "find_masks",
    "measure_masks",
    "stats_table",
    "write_measures_csv",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
OUTSIDE = "outside"
INDEX_NAME = "bins.csv"


@dataclass(frozen=True)
class MaskMeasure:
    """One external mask: path relative to its folder, size, hole ratio, border distance, bin (None =
    outside every bin) and border split."""

    file: str
    height: int
    width: int
    hole_ratio: float
    border_distance: int
    bin: int | None
    split: str


def find_masks(folder: Path) -> list[Path]:
    """Every mask image under ``folder`` (recursive, sorted); errors when there is none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such mask folder")
    files = sorted(
        path for path in folder.rglob("*") if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    )
    if not files:
        raise ValueError(f"{folder}: no mask images ({' '.join(IMAGE_SUFFIXES)}) in it or below it")
    return files


def measure_masks(
    folder: Path,
    *,
    hole_value: int = 255,
    border: int = DEFAULT_BORDER,
    edges: Sequence[float] = BIN_EDGES,
    progress: bool = False,
) -> list[MaskMeasure]:
    """Measure every mask under ``folder`` with the benchmark's own binning rules."""
    folder = Path(folder)
    measures = []
    for path in progress_bar(find_masks(folder), desc="measure masks", enabled=progress, unit="mask"):
        hole = read_mask_png(path, hole_value=hole_value)
        stats = mask_stats(hole, border=border, edges=edges)
        measures.append(
            MaskMeasure(
                file=path.relative_to(folder).as_posix(),
                height=hole.shape[0],
                width=hole.shape[1],
                hole_ratio=stats.hole_ratio,
                border_distance=stats.border_distance,
                bin=stats.bin,
                split=stats.split,
            )
        )
    return measures


def stats_table(measures: list[MaskMeasure], *, edges: Sequence[float] = BIN_EDGES) -> str:
    """A plain-text report: counts and ratio statistics per bin and split, masks outside the bins, sizes."""
    lines = [
        f"{len(measures)} masks",
        f"{'bin':<12}{'split':<7}{'masks':>7}{'min':>9}{'mean':>9}{'max':>9}{'mean border px':>16}",
    ]
    for index in range(len(edges) - 1):
        for split in SPLITS:
            group = [item for item in measures if item.bin == index and item.split == split]
            if group:
                ratios = [item.hole_ratio for item in group]
                distance = statistics.fmean(item.border_distance for item in group)
                lines.append(
                    f"{bin_label(index, edges):<12}{split:<7}{len(group):>7}{min(ratios):>9.4f}"
                    f"{statistics.fmean(ratios):>9.4f}{max(ratios):>9.4f}{distance:>16.1f}"
                )
            else:
                lines.append(f"{bin_label(index, edges):<12}{split:<7}{0:>7}")
    outside = [item.hole_ratio for item in measures if item.bin is None]
    lines.append(
        f"outside the bins: {len(outside)}"
        + (f" (ratios {min(outside):.4f} to {max(outside):.4f})" if outside else "")
    )
    sizes = sorted({(item.width, item.height) for item in measures})
    lines.append(
        "sizes: "
        + ", ".join(f"{width}x{height}" for width, height in sizes[:8])
        + (f" and {len(sizes) - 8} more" if len(sizes) > 8 else "")
    )
    return "\n".join(lines)


def _destination(item: MaskMeasure, edges: Sequence[float]) -> str:
    if item.bin is None:
        return f"{OUTSIDE}/{item.file}"
    return f"{bin_folder_name(item.bin, edges)}/{item.split}/{item.file}"


def write_measures_csv(
    path: Path, measures: list[MaskMeasure], *, destinations: list[str] | None = None
) -> None:
    """Write measurements as CSV (``bin`` empty when outside every bin), atomically."""
    buffer = io.StringIO()
    columns = [*asdict(measures[0]), *(["destination"] if destinations else [])]
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for number, item in enumerate(measures):
        row = {**asdict(item), "bin": "" if item.bin is None else item.bin}
        if destinations:
            row["destination"] = destinations[number]
        writer.writerow(row)
    atomic_write_text(path, buffer.getvalue())


def bin_masks(
    folder: Path,
    out: Path,
    *,
    hole_value: int = 255,
    border: int = DEFAULT_BORDER,
    edges: Sequence[float] = BIN_EDGES,
    progress: bool = False,
) -> list[MaskMeasure]:
    """Copy every mask under ``folder`` into ``out`` sorted by bin and split; return the measurements."""
    folder, out = Path(folder), Path(out)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; give a new folder")
    if out.resolve().is_relative_to(folder.resolve()):
        raise ValueError(f"{out} lies inside the mask folder {folder}; give a folder outside it")
    measures = measure_masks(folder, hole_value=hole_value, border=border, edges=edges, progress=progress)
    destinations = [_destination(item, edges) for item in measures]
    temp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(temp, ignore_errors=True)
    try:
        for item, destination in zip(measures, destinations, strict=True):
            (temp / destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / item.file, temp / destination)
        write_measures_csv(temp / INDEX_NAME, measures, destinations=destinations)
        if out.exists():
            out.rmdir()
        os.replace(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return measures

"""Reading other people's mask sets (``pconv masks stats`` / ``pconv masks bin``).

Any folder of mask images: NVIDIA's released test set (255 = hole), its training masks and Quick Draw
masks (0 = hole), LaMa's masks, ... Folders are searched **recursively** for image files
(``core.files.IMAGE_SUFFIXES``), in sorted order of their path. Each image is read with
:func:`pconv.core.masks.read_mask_png` (grey, RGB or 16-bit; split at grey level 128; ``hole_value`` names
the convention) and measured with the same :func:`pconv.maskgen.sets.bins.mask_stats` as our benchmark, so
bins and
the N/B split mean exactly the same thing.

``bin_masks`` **copies** the files (links would break when the source moves, and copies can be zipped
and shared) into ``OUT/binK_LOW-HIGH/N|B/<path inside the source folder>``; masks outside every bin go to
``OUT/outside/<path>``; ``OUT/bins.csv`` lists every file with its measurements and destination, and
``OUT/bin.json`` how they were read (hole value, border, bin edges, the source folder relative to ``OUT``,
version), so ``pconv masks publish OUT`` can release the set (:mod:`pconv.maskgen.release.publish_binned`).
``OUT`` is built under a temporary name and renamed, so it is either complete or absent.

A benchmark folder (one with ``manifest.csv`` beside ``masks/``) is read through its ``masks/`` only, and
its manifest's ``raw_id`` column tells how many distinct raw masks it uses. ``stats`` also reports the
shape and diversity measures of :mod:`pconv.maskgen.release.shapes` per bin × split.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import shutil
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from pconv.core import __version__
from pconv.core.files import (
    IMAGE_SUFFIXES,
    atomic_write_text,
    list_images,
    refuse_overlap,
    relative_path,
    temporary_name,
)
from pconv.core.masks import read_mask_png
from pconv.core.progress import progress_bar
from pconv.core.workers import default_workers, worker_processes
from pconv.maskgen.release.shapes import (
    SHAPE_FIELDS,
    SHAPE_RATIO_RANGE,
    SHAPE_TOLERANCES,
    THUMBNAIL_SIDE,
    GroupSummary,
    Medians,
    ShapeMeasures,
    inside_targets,
    median_ratios,
    near_duplicate_flags,
    shape_measures,
    summarize,
    thumbnail,
)
from pconv.maskgen.sets.augment import magnification_summary
from pconv.maskgen.sets.bins import BIN_EDGES, DEFAULT_BORDER, SPLITS, bin_folder_name, bin_label, mask_stats

__all__ = [
    "BINNING_NAME",
    "INDEX_NAME",
    "MaskMeasure",
    "MaskSetStats",
    "bin_masks",
    "compare_table",
    "find_masks",
    "mask_set_stats",
    "measure_masks",
    "medians_by_group",
    "ratio_table",
    "stats_table",
    "write_measures_csv",
]

OUTSIDE = "outside"
INDEX_NAME = "bins.csv"
BINNING_NAME = "bin.json"
BENCH_MANIFEST = "manifest.csv"
BENCH_MASKS = "masks"
CHUNK = 64  # masks per worker task


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
    thickness: float
    boundary_density: float
    components: int
    roughness: float
    raw_id: str
    magnification: float | None = None

    @property
    def shape(self) -> ShapeMeasures:
        return ShapeMeasures(self.thickness, self.boundary_density, self.components, self.roughness)


def _is_benchmark(folder: Path) -> bool:
    return (folder / BENCH_MANIFEST).is_file() and (folder / BENCH_MASKS).is_dir()


def _manifest_columns(folder: Path) -> dict[str, tuple[str, float | None]]:
    """File (relative to ``folder``) -> (raw mask id, magnification), from a benchmark's manifest; {} for
    other folders. The magnification (``scale``) is None in a manifest without that column."""
    if not _is_benchmark(folder):
        return {}
    path = folder / BENCH_MANIFEST
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as error:
        raise ValueError(f"{path}: not a readable manifest ({error})") from None
    if rows and not {"file", "raw_id"} <= set(rows[0]):
        raise ValueError(f"{path}: not a benchmark manifest (lacks file or raw_id)")
    try:
        return {
            row["file"]: (row["raw_id"], float(row["scale"]) if row.get("scale") else None) for row in rows
        }
    except ValueError:
        raise ValueError(f"{path}: a scale that is not a number") from None


def find_masks(folder: Path) -> list[Path]:
    """Every mask image under ``folder`` (recursive, sorted); errors when there is none.

    In a benchmark folder only ``masks/`` is searched: its default input and raw pool are no benchmark
    masks. A benchmark nested inside another folder's masks is refused rather than counted twice.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such mask folder")
    if _is_benchmark(folder):
        return find_masks(folder / BENCH_MASKS)
    files = sorted(list_images(folder))
    if not files:
        raise ValueError(f"{folder}: no mask images ({' '.join(sorted(IMAGE_SUFFIXES))}) in it or below it")
    folders = sorted({parent for path in files for parent in path.relative_to(folder).parents} - {Path(".")})
    nested = next((folder / inner for inner in folders if _is_benchmark(folder / inner)), None)
    if nested is not None:
        raise ValueError(f"{nested}: a benchmark inside the mask folder {folder}; measure it on its own")
    return files


def _measure_chunk(
    folder: Path, files: Sequence[str], *, hole_value: int, border: int, edges: Sequence[float]
) -> list[tuple[dict, np.ndarray]]:
    """Measure ``files`` (relative to ``folder``): a MaskMeasure's fields and a packed thumbnail each."""
    results = []
    for name in files:
        hole = read_mask_png(folder / name, hole_value=hole_value)
        stats = mask_stats(hole, border=border, edges=edges)
        shape = shape_measures(hole) if stats.hole_ratio > 0 else ShapeMeasures(0.0, 0.0, 0, 1.0)
        fields_ = {
            "file": name,
            "height": hole.shape[0],
            "width": hole.shape[1],
            "hole_ratio": stats.hole_ratio,
            "border_distance": stats.border_distance,
            "bin": stats.bin,
            "split": stats.split,
            **asdict(shape),
        }
        results.append((fields_, np.packbits(thumbnail(hole))))
    return results


def measure_masks(
    folder: Path,
    *,
    hole_value: int = 255,
    border: int = DEFAULT_BORDER,
    edges: Sequence[float] = BIN_EDGES,
    workers: int | None = None,
    progress: bool = False,
) -> tuple[list[MaskMeasure], list[np.ndarray]]:
    """Measure every mask under ``folder`` with the benchmark's own binning rules and the shape measures.

    Returns the measures in file order and each mask's 64×64 bool thumbnail (for near-duplicates).
    """
    folder = Path(folder)
    names = [path.relative_to(folder).as_posix() for path in find_masks(folder)]
    manifest = _manifest_columns(folder)
    chunks = [names[start : start + CHUNK] for start in range(0, len(names), CHUNK)]
    measures, thumbnails = [], []
    bar = progress_bar(total=len(names), desc="measure masks", enabled=progress, unit="mask")
    with bar, worker_processes(min(len(chunks), workers or default_workers())) as pool:
        measure = functools.partial(
            _measure_chunk, folder, hole_value=hole_value, border=border, edges=tuple(edges)
        )
        for chunk in map(measure, chunks) if pool is None else pool.map(measure, chunks):
            for fields_, packed in chunk:
                raw_id, scale = manifest.get(fields_["file"], ("", None))
                measures.append(MaskMeasure(**fields_, raw_id=raw_id, magnification=scale))
                thumbnails.append(np.unpackbits(packed).astype(bool).reshape(THUMBNAIL_SIDE, THUMBNAIL_SIDE))
            bar.update(len(chunk))
    return measures, thumbnails


@dataclass(frozen=True)
class MaskSetStats:
    """A mask set's measures grouped as the report shows them: one summary per bin × split (None where
    the cell is empty) and one over the masks whose ratio lies in SHAPE_RATIO_RANGE."""

    name: str
    measures: list[MaskMeasure]
    cells: dict[tuple[int, str], GroupSummary | None]
    headline: GroupSummary | None


def mask_set_stats(
    name: str,
    measures: list[MaskMeasure],
    thumbnails: list[np.ndarray],
    *,
    edges: Sequence[float] = BIN_EDGES,
) -> MaskSetStats:
    """Group and summarize; near-duplicates are looked for within each bin × split."""
    known_raw = bool(measures) and all(item.raw_id for item in measures)
    cells: dict[tuple[int, str], GroupSummary | None] = {}
    flags = np.zeros(len(measures), bool)
    for index in range(len(edges) - 1):
        low, high = edges[index], edges[index + 1]
        for split in SPLITS:
            members = [
                number for number, item in enumerate(measures) if item.bin == index and item.split == split
            ]
            if not members:
                cells[index, split] = None
                continue
            flags[members] = near_duplicate_flags([thumbnails[number] for number in members])
            cells[index, split] = summarize(
                [measures[number].shape for number in members],
                flags[members],
                raw_ids=[measures[number].raw_id for number in members] if known_raw else None,
                ratio_positions=[(measures[number].hole_ratio - low) / (high - low) for number in members],
            )
    low, high = SHAPE_RATIO_RANGE
    chosen = [number for number, item in enumerate(measures) if low <= item.hole_ratio <= high]
    headline = (
        summarize(
            [measures[number].shape for number in chosen],
            flags[chosen],
            raw_ids=[item.raw_id for item in measures] if known_raw else None,
        )
        if chosen
        else None
    )
    return MaskSetStats(name, measures, cells, headline)


def stats_table(stats: MaskSetStats, *, edges: Sequence[float] = BIN_EDGES) -> str:
    """A plain-text report: counts and ratios per bin and split, then shapes and diversity (see
    :mod:`pconv.maskgen.release.shapes`), masks outside the bins and sizes."""
    measures = stats.measures
    lines = [
        f"{len(measures)} masks",
        f"{'bin':<12}{'split':<7}{'masks':>7}{'min':>9}{'mean':>9}{'max':>9}{'low 10%':>9}"
        f"{'mean border px':>16}",
    ]
    for index in range(len(edges) - 1):
        for split in SPLITS:
            group = [item for item in measures if item.bin == index and item.split == split]
            summary = stats.cells[index, split]
            if group and summary is not None:
                ratios = [item.hole_ratio for item in group]
                distance = statistics.fmean(item.border_distance for item in group)
                lines.append(
                    f"{bin_label(index, edges):<12}{split:<7}{len(group):>7}{min(ratios):>9.4f}"
                    f"{statistics.fmean(ratios):>9.4f}{max(ratios):>9.4f}{summary.low_tenth:>9.1%}"
                    f"{distance:>16.1f}"
                )
            else:
                lines.append(f"{bin_label(index, edges):<12}{split:<7}{0:>7}")
    lines += ["", "shapes (medians at 256 px) and diversity", _SHAPE_HEADER]
    for index in range(len(edges) - 1):
        for split in SPLITS:
            lines.append(_shape_row(f"{bin_label(index, edges)} {split}", stats.cells[index, split]))
    lines.append(_shape_row("ratio 0.1-0.6", stats.headline))
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
    scales = [item.magnification for item in measures]
    if scales and None not in scales:
        summary = magnification_summary(scales)
        lines.append(
            "magnification (output px per source px, the manifest's scale): "
            f"median {summary['median']:.2f}, {summary['min']:.2f} to {summary['max']:.2f}"
        )
    return "\n".join(lines)


_SHAPE_HEADER = (
    f"{'group':<22}{'masks':>7}{'thick px':>10}{'bound/100':>11}{'comps':>7}{'rough':>7}"
    f"{'near-dup':>10}{'raw':>7}{'max use':>9}"
)


def _shape_row(label: str, summary: GroupSummary | None) -> str:
    """One line of the shape table; raw-mask columns show '-' for masks of unknown origin."""
    if summary is None:
        return f"{label:<22}{0:>7}"
    raw = "-" if summary.distinct_raw is None else str(summary.distinct_raw)
    most = "-" if summary.most_uses is None else str(summary.most_uses)
    return (
        f"{label:<22}{summary.count:>7}{summary.thickness:>10.1f}{summary.boundary_density:>11.1f}"
        f"{summary.components:>7.0f}{summary.roughness:>7.2f}{summary.near_duplicates:>10.1%}{raw:>7}{most:>9}"
    )


def compare_table(first: MaskSetStats, second: MaskSetStats, *, edges: Sequence[float] = BIN_EDGES) -> str:
    """Two mask sets side by side: for each bin × split and the 0.1-0.6 headline, one row per set."""
    width = max(len(first.name), len(second.name), 8)
    lines = [f"{'set':<{width}}  {_SHAPE_HEADER}"]
    groups = [
        (f"{bin_label(index, edges)} {split}", (index, split))
        for index in range(len(edges) - 1)
        for split in SPLITS
    ]
    for label, key in [*groups, ("ratio 0.1-0.6", None)]:
        for stats in (first, second):
            summary = stats.headline if key is None else stats.cells[key]
            lines.append(f"{stats.name:<{width}}  {_shape_row(label, summary)}")
    return "\n".join(lines)


def medians_by_group(stats: MaskSetStats) -> dict[tuple[int, str] | None, GroupSummary | None]:
    """A set's summaries keyed as NVIDIA_TEST_MEDIANS is: (bin, split) per cell, None for ratio 0.1-0.6."""
    return {**stats.cells, None: stats.headline}


def _targets_text() -> str:
    return ", ".join(f"{name.split('_')[0]} ±{SHAPE_TOLERANCES[name]:.0%}" for name in SHAPE_FIELDS)


def ratio_table(
    stats: MaskSetStats,
    reference_name: str,
    reference: dict[tuple[int, str] | None, Medians | None],
    *,
    edges: Sequence[float] = BIN_EDGES,
) -> str:
    """Each cell's four medians over the reference's, ``*`` marking a ratio outside SHAPE_TOLERANCES, then
    how many of the bin × split cells lie inside on all four (a cell empty in either set never does)."""
    lines = [
        f"ratios of the medians, {stats.name} / {reference_name} (* outside the targets: {_targets_text()})",
        f"{'group':<22}{'thick px':>10}{'bound/100':>11}{'comps':>7}{'rough':>7}  inside",
    ]
    ours = medians_by_group(stats)
    keys = [(index, split) for index in range(len(edges) - 1) for split in SPLITS]
    inside_count = 0
    for key in [*keys, None]:
        label = "ratio 0.1-0.6" if key is None else f"{bin_label(key[0], edges)} {key[1]}"
        summary, base = ours.get(key), reference.get(key)
        if summary is None or base is None:
            lines.append(f"{label:<22}{'-':>10}{'-':>11}{'-':>7}{'-':>7}  no")
            continue
        ratios = median_ratios(summary, base)
        inside = inside_targets(ratios)
        cells = [f"{ratios[name]:.2f}{'' if inside[name] else '*'}" for name in SHAPE_FIELDS]
        verdict = "yes" if all(inside.values()) else "no"
        lines.append(f"{label:<22}{cells[0]:>10}{cells[1]:>11}{cells[2]:>7}{cells[3]:>7}  {verdict}")
        inside_count += key is not None and all(inside.values())
    lines.append(f"cells inside the targets: {inside_count} of {len(keys)}")
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
    refuse_overlap(out, {"FOLDER": folder})
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"{out} is not empty; give a new folder")
    measures, _ = measure_masks(folder, hole_value=hole_value, border=border, edges=edges, progress=progress)
    destinations = [_destination(item, edges) for item in measures]
    temp = temporary_name(out)
    shutil.rmtree(temp, ignore_errors=True)
    try:
        for item, destination in zip(measures, destinations, strict=True):
            (temp / destination).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / item.file, temp / destination)
        write_measures_csv(temp / INDEX_NAME, measures, destinations=destinations)
        binning = {
            "hole_value": hole_value,
            "border": border,
            "bin_edges": list(edges),
            "source": relative_path(folder, out),
            "version": __version__,
        }
        atomic_write_text(temp / BINNING_NAME, json.dumps(binning, indent=2, sort_keys=True) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return measures

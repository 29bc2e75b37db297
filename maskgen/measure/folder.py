"""Measuring any folder of masks (``pconv masks stats``) and sorting it into bins (``pconv masks bin``).

Any folder of mask images: NVIDIA's released test set (255 = hole), its training masks and Quick Draw
masks (0 = hole), LaMa's masks, ... Folders are searched **recursively** for image files
(``core.files.IMAGE_SUFFIXES``), in sorted order of their path. Each image is read with
:func:`pconv.core.masks.read_mask_png` (grey, RGB or 16-bit; split at grey level 128; ``hole_value`` names
the convention) and measured with the same :func:`pconv.maskgen.sets.bins.mask_stats` as our benchmark, so
bins and the N/B split mean exactly the same thing, and with the shape measures of
:mod:`pconv.maskgen.measure.shapes`; :mod:`pconv.maskgen.measure.tables` groups and prints them.

``bin_masks`` **copies** the files (links would break when the source moves, and copies can be zipped
and shared) into ``OUT/binK_LOW-HIGH/N|B/<path inside the source folder>``; masks outside every bin go to
``OUT/outside/<path>``; ``OUT/bins.csv`` lists every file with its measurements and destination, and
``OUT/bin.json`` how they were read (hole value, border, bin edges, the source folder relative to ``OUT``,
version), so ``pconv masks publish OUT`` can release the set (:mod:`pconv.maskgen.release.publish_binned`).
``OUT`` is built under a temporary name and renamed, so it is either complete or absent.

A benchmark folder (one with ``manifest.csv`` beside ``masks/``) is read through its ``masks/`` only, and
its manifest's ``raw_id`` column tells how many distinct raw masks it uses.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import os
import shutil
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
from pconv.maskgen.measure.shapes import THUMBNAIL_SIDE, ShapeMeasures, shape_measures, thumbnail
from pconv.maskgen.sets.bench_format import CSV_NAME, MASK_DIR, bin_folder_name
from pconv.maskgen.sets.bins import BIN_EDGES, DEFAULT_BORDER, mask_stats

__all__ = [
    "BINNING_NAME",
    "INDEX_NAME",
    "MaskMeasure",
    "bin_masks",
    "find_masks",
    "measure_masks",
    "write_measures_csv",
]

OUTSIDE = "outside"
INDEX_NAME = "bins.csv"
BINNING_NAME = "bin.json"
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
    return (folder / CSV_NAME).is_file() and (folder / MASK_DIR).is_dir()


def _manifest_columns(folder: Path) -> dict[str, tuple[str, float | None]]:
    """File (relative to ``folder``) -> (raw mask id, magnification), from a benchmark's manifest; {} for
    other folders. The magnification (``scale``) is None in a manifest without that column."""
    if not _is_benchmark(folder):
        return {}
    path = folder / CSV_NAME
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
        return find_masks(folder / MASK_DIR)
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

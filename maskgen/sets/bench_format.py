"""The benchmark's files as every reader and writer sees them: folder layout, manifest columns, HDF5 layout,
the manifest reader and the bin labels. The builder, ``verify``, ``publish``, ``stats`` and the evaluator all
take the format from here, so it is stated once.

Layout of a mask set folder ``OUT`` (the benchmark; an exported training set shares it)::

    OUT/masks/00000.png ...   uint8, single channel, 255 = hole, numbered from 0 (5 digits or more)
    OUT/manifest.csv          a row per mask, in file order (columns: file, the recipe's, sha256)
    OUT/masks.h5              dataset ``masks`` (N, H, W) uint8 (255 = hole), chunked one mask per chunk
                              and gzip-compressed; every manifest column as a dataset; parameters, seed,
                              bin edges and tool version as attributes (:func:`hdf5_attributes`)
    OUT/build.json            what was asked for: recipe parameters, raw pool digest, tool version; once
                              finished also the masks' ``magnification`` (median, min, max of ``scale``)

A benchmark's manifest columns are ``file``, :data:`BENCH_COLUMNS` and ``sha256``; one row is a
:class:`BenchRecord`. Bins are written as the paper writes them, ``(0.01,0.1]`` (:func:`bin_label`).
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from pconv.core.files import inside
from pconv.core.masks import read_mask_png
from pconv.maskgen.sets.bins import BIN_EDGES, bin_bounds

__all__ = [
    "BENCH_COLUMNS",
    "BUILD_NAME",
    "CSV_NAME",
    "DRAWN_COLUMNS",
    "HDF5_MASKS",
    "HDF5_NAME",
    "HOLE_VALUE",
    "MASK_DIR",
    "BenchRecord",
    "bin_folder_name",
    "bin_label",
    "hdf5_attributes",
    "interval_label",
    "load_benchmark_hole",
    "read_benchmark",
    "set_mask_path",
]

MASK_DIR = "masks"
CSV_NAME = "manifest.csv"
HDF5_NAME = "masks.h5"
BUILD_NAME = "build.json"
HDF5_MASKS = "masks"
"""The HDF5 dataset holding the masks, ``(N, H, W)`` uint8."""
HOLE_VALUE = 255
"""Pixel value of a hole in the PNGs and in ``masks.h5`` (NVIDIA's test-set convention), an attribute too."""

DRAWN_COLUMNS = (
    "hole_ratio",
    "border_distance",
    "raw_id",
    "source",
    "frame",
    "dilation",
    "angle",
    "scale",
    "crop_x",
    "crop_y",
    "seed",
)
"""Manifest columns of any mask drawn from a raw pool: its hole ratio and border distance, the raw mask and
frame it came from, and the augmentation that made it; each kind of set adds its own around these."""

BENCH_COLUMNS = ("bin", "bin_low", "bin_high", "split", *DRAWN_COLUMNS, "attempt")
"""Manifest columns between ``file`` and ``sha256``. ``bin`` is 0-based; ``crop_x, crop_y`` is the window
centre in raw px, ``angle`` its rotation in degrees, ``scale`` its magnification; ``dilation`` in px."""


def set_mask_path(index: int, count: int) -> str:
    """Relative path of mask ``index`` of ``count``: ``masks/00000.png`` (NVIDIA's numbering)."""
    return f"{MASK_DIR}/{index:0{max(5, len(str(count - 1)))}d}.png"


def interval_label(low: float, high: float) -> str:
    """A hole-ratio interval as the paper writes it, e.g. ``"(0.01,0.1]"``."""
    return f"({low:g},{high:g}]"


def bin_label(index: int, edges: Sequence[float] = BIN_EDGES) -> str:
    """Bin ``index`` as the paper writes it, e.g. ``"(0.01,0.1]"``."""
    return interval_label(*bin_bounds(index, edges))


def bin_folder_name(index: int, edges: Sequence[float] = BIN_EDGES) -> str:
    """A shell-friendly folder name for bin ``index``, e.g. ``"bin1_0.01-0.1"`` (1-based like the paper)."""
    low, high = bin_bounds(index, edges)
    return f"bin{index + 1}_{low:g}-{high:g}"


def hdf5_attributes(build: dict[str, Any]) -> dict[str, Any]:
    """The attributes of ``masks.h5``, in the order they are written, from the set's ``build.json`` content
    (``kind``, ``params``, ``version``, ``raw_pool``, ``raw_accumulation``). HDF5 has no null, so a None
    value (a pool of single pairs has no accumulation) is no attribute."""
    attributes = {
        **build["params"],
        "kind": build.get("kind"),
        "version": build.get("version"),
        "raw_pool": build.get("raw_pool"),
        "raw_accumulation": build.get("raw_accumulation"),
        "hole_value": HOLE_VALUE,
    }
    return {key: value for key, value in attributes.items() if value is not None}


@dataclass(frozen=True)
class BenchRecord:
    """One row of a benchmark's ``manifest.csv`` (see :data:`BENCH_COLUMNS`)."""

    file: str
    bin: int
    bin_low: float
    bin_high: float
    split: str
    hole_ratio: float
    border_distance: int
    raw_id: int
    source: str
    frame: int
    dilation: int
    angle: float
    scale: float
    crop_x: float
    crop_y: float
    seed: int
    attempt: int
    sha256: str

    @property
    def label(self) -> str:
        """The mask's bin as the paper writes it, from the bounds the manifest records."""
        return interval_label(self.bin_low, self.bin_high)


_PARSERS = {
    item.name: {"int": int, "float": float, "str": str}[item.type] for item in dataclasses.fields(BenchRecord)
}


def _record(row: dict[str | None, Any]) -> BenchRecord:
    short = [name for name in _PARSERS if row.get(name) is None]
    if short:  # csv fills a short row with None
        raise ValueError(f"the row has no {short[0]} field: fewer fields than the header")
    return BenchRecord(**{name: parse(row[name]) for name, parse in _PARSERS.items()})


def read_benchmark(bench: Path) -> list[BenchRecord]:
    """The benchmark's manifest rows in file order."""
    path = Path(bench) / CSV_NAME
    if not path.is_file():
        raise FileNotFoundError(
            f"{bench}: not a benchmark (no {CSV_NAME}; build one with `pconv masks benchmark`)"
        )
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            missing = sorted(set(_PARSERS) - set(reader.fieldnames or ()))
            if missing:
                raise ValueError(f"{path}: not a benchmark manifest (lacks {', '.join(missing)})")
            try:
                return [_record(row) for row in reader]
            except (TypeError, ValueError, csv.Error) as error:
                raise ValueError(f"{path}:{reader.line_num}: bad manifest row ({error})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as error:  # e.g. a header field over the csv module's field size limit
        raise ValueError(f"{path}: not a readable manifest ({error})") from None


def load_benchmark_hole(bench: Path, record: BenchRecord) -> np.ndarray:
    """The mask of ``record`` as a hole map: ``(H, W)`` bool, True = hole."""
    return read_mask_png(inside(bench, record.file))

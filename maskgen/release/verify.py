"""Checking a benchmark or a published release (``pconv masks verify DIR``).

Recomputes everything a user relies on and lists every violation, one line each:

* checksums: every line of ``SHA256SUMS`` when there is one, and every row's ``sha256`` in the manifest;
* layout: no mask missing, no unlisted file in ``masks/``, files numbered in order;
* counts: ``per_bin`` masks per bin and split, the total;
* order: NVIDIA's blocks, bins ascending, N before B inside each;
* every mask: 8-bit single channel, only 0 and 255, the benchmark's size, its hole ratio (recomputed)
  equal to the manifest's and inside its bin, its border distance and split per the border rule
  (the shared :func:`pconv.maskgen.sets.bins.mask_stats`); no two masks identical;
* ``masks.h5``: present, the same masks as the PNGs, every manifest column and every ``build.json``
  parameter (as attributes) equal to the originals.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
from pathlib import Path
from typing import Any

import cv2
import h5py
import numpy as np

from pconv.core.errors import first_line
from pconv.core.files import inside, read_json_object, sha256_file
from pconv.core.limits import IMAGE_LIMIT, check_image_header
from pconv.core.progress import progress_bar
from pconv.maskgen.sets.bench import BenchRecipe
from pconv.maskgen.sets.bench_format import (
    BUILD_NAME,
    CSV_NAME,
    HDF5_MASKS,
    HDF5_NAME,
    MASK_DIR,
    BenchRecord,
    hdf5_attributes,
    read_benchmark,
    set_mask_path,
)
from pconv.maskgen.sets.bins import SPLITS, bin_index, mask_stats

__all__ = ["SUMS_NAME", "checks_made", "verify_benchmark"]

SUMS_NAME = "SHA256SUMS"


def _checksums(folder: Path) -> list[str]:
    problems = []
    listed = set()
    for number, line in enumerate((folder / SUMS_NAME).read_text(encoding="utf-8").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not name:
            problems.append(f"{SUMS_NAME}:{number}: not a 'digest  path' line")
            continue
        listed.add(name)
        try:
            path = inside(folder, name)
        except ValueError as error:
            problems.append(f"{SUMS_NAME}:{number}: {first_line(error)}")
            continue
        if not path.is_file():
            problems.append(f"{name}: listed in {SUMS_NAME} but missing")
        elif sha256_file(path) != digest:
            problems.append(f"{name}: checksum differs from {SUMS_NAME}")
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != SUMS_NAME and name not in listed:
            problems.append(f"{name}: not listed in {SUMS_NAME}")
    return problems


def _check_mask(
    folder: Path, record: BenchRecord, recipe: BenchRecipe
) -> tuple[list[str], bytes | None, np.ndarray | None]:
    """Problems of one mask file, its bytes (None when missing) and its pixels (None when unreadable)."""
    try:
        path = inside(folder, record.file)
    except ValueError as error:
        return [first_line(error)], None, None
    if not path.is_file():
        return [f"{record.file}: missing"], None, None
    try:
        check_image_header(path)
    except ValueError as error:
        return [first_line(error)], None, None
    data = path.read_bytes()
    problems = []
    if hashlib.sha256(data).hexdigest() != record.sha256:
        problems.append(f"{record.file}: sha256 differs from the manifest")
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None:
        return [*problems, f"{record.file}: not a readable image"], data, None
    if image.dtype != np.uint8 or image.ndim != 2:
        problems.append(f"{record.file}: {image.dtype} of shape {image.shape}, expected single-channel uint8")
        return problems, data, None
    if image.shape != (recipe.size, recipe.size):
        problems.append(
            f"{record.file}: {image.shape[1]}x{image.shape[0]} px, expected {recipe.size}x{recipe.size}"
        )
    values = np.flatnonzero(cv2.calcHist([image], [0], None, [256], [0, 256]).ravel())
    if not set(values.tolist()) <= {0, 255}:
        problems.append(f"{record.file}: pixel values {values.tolist()[:6]}, expected only 0 and 255")
    stats = mask_stats(image >= 128, border=recipe.border, edges=recipe.edges)
    if stats.hole_ratio != record.hole_ratio:
        problems.append(
            f"{record.file}: hole ratio {stats.hole_ratio!r}, manifest says {record.hole_ratio!r}"
        )
    if stats.bin != record.bin:
        problems.append(
            f"{record.file}: hole ratio {stats.hole_ratio:.6f} lies outside its bin {record.label}"
        )
    if stats.split != record.split or stats.border_distance != record.border_distance:
        problems.append(
            f"{record.file}: border distance {stats.border_distance} px makes it {stats.split} "
            f"(border {recipe.border} px), manifest says {record.split} at "
            f"{record.border_distance} px"
        )
    return problems, data, image


def _check_order(records: list[BenchRecord], recipe: BenchRecipe) -> list[str]:
    problems = []
    if len(records) != recipe.count:
        problems.append(
            f"manifest: {len(records)} masks, expected {recipe.count} "
            f"({len(recipe.edges) - 1} bins x 2 splits x {recipe.per_bin})"
        )
    counts: dict[tuple[int, str], int] = {}
    for index, record in enumerate(records):
        counts[record.bin, record.split] = counts.get((record.bin, record.split), 0) + 1
        block, split, _ = recipe.slot(index)
        expected = (set_mask_path(index, recipe.count), block, SPLITS[split])
        if (record.file, record.bin, record.split) != expected:
            problems.append(
                f"manifest row {index + 1}: {record.file} bin {record.bin} {record.split}, "
                f"expected {expected[0]} bin {block} {SPLITS[split]} (NVIDIA order)"
            )
        if bin_index(record.hole_ratio, recipe.edges) != record.bin:
            problems.append(f"{record.file}: manifest ratio {record.hole_ratio} is not in bin {record.bin}")
    for block in range(len(recipe.edges) - 1):
        for split in SPLITS:
            if counts.get((block, split), 0) != recipe.per_bin:
                problems.append(
                    f"bin {block} {split}: {counts.get((block, split), 0)} masks, expected {recipe.per_bin}"
                )
    return problems


def _attribute_value(value: Any) -> Any:
    """An HDF5 attribute as plain JSON-like Python (dicts were stored as JSON text)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    if isinstance(value, str) and value.startswith("{"):
        with contextlib.suppress(json.JSONDecodeError, RecursionError):  # else it differs from build.json
            return json.loads(value)
        return value
    return np.asarray(value).tolist()


def _check_hdf5_tables(folder: Path, h5: h5py.File, build: dict[str, Any]) -> list[str]:
    """The HDF5 copies of the manifest's columns and of build.json's parameters, against the originals."""
    problems = []
    with open(folder / CSV_NAME, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns, rows = list(reader.fieldnames or ()), list(reader)
    for column in columns:
        if column not in h5:
            problems.append(f"{HDF5_NAME}: no dataset {column!r} (a manifest column)")
            continue
        node = h5[column]
        if not isinstance(node, h5py.Dataset) or len(node.shape) != 1:
            problems.append(f"{HDF5_NAME}: {column} is {_kind(node)}, expected one value per manifest row")
            continue
        if node.shape[0] != len(rows):  # checked from the shape, before a crafted length is read
            problems.append(
                f"{HDF5_NAME}: {column} has {node.shape[0]} values, manifest has {len(rows)} rows"
            )
            continue
        stored = node[()]
        parse = {"i": int, "u": int, "f": float}.get(stored.dtype.kind)
        for number, (value, row) in enumerate(zip(stored.tolist(), rows, strict=True), start=1):
            text = row[column]
            if isinstance(value, bytes):
                value = value.decode("utf-8")
            if (parse(text) if parse else text) != value:
                problems.append(
                    f"{HDF5_NAME}: {column}[{number - 1}] is {value!r}, manifest row {number} says {text}"
                )
                break  # one line per column is enough to point at the damage
    for key, value in sorted(hdf5_attributes(build).items()):
        if key not in h5.attrs:
            problems.append(f"{HDF5_NAME}: no attribute {key!r}")
        elif _attribute_value(h5.attrs[key]) != value:
            problems.append(
                f"{HDF5_NAME}: attribute {key} is {_attribute_value(h5.attrs[key])!r}, "
                f"{BUILD_NAME} says {value!r}"
            )
    return problems


def _recipe(build_path: Path, build: dict[str, Any]) -> BenchRecipe:
    params = build["params"]
    missing = [key for key in ("per_bin", "size", "border", "seed", "bin_edges") if key not in params]
    if missing:
        raise ValueError(f"{build_path}: params lack {', '.join(missing)}; not a benchmark's build file")
    try:
        return BenchRecipe(
            per_bin=params["per_bin"],
            size=params["size"],
            border=params["border"],
            seed=params["seed"],
            edges=tuple(params["bin_edges"]),
        )
    except (TypeError, ValueError) as error:
        raise ValueError(f"{build_path}: not a benchmark's build file ({first_line(error)})") from None


def _kind(node: Any) -> str:
    """How an HDF5 node reads in a problem line: "a group", "a scalar", "float32 of shape (2, 4, 4)"."""
    if not isinstance(node, h5py.Dataset):
        return "a group"
    return "a scalar" if node.shape == () else f"{node.dtype} of shape {node.shape}"


def _masks_dataset(h5: h5py.File, count: int, recipe: BenchRecipe) -> tuple[h5py.Dataset | None, list[str]]:
    """``masks.h5``'s ``masks``, checked from its header (kind, dtype, shape, the pixel limit) before any
    mask is read; None with the problem when it is not ``count`` uint8 masks of the benchmark's size."""
    stored = h5.get(HDF5_MASKS)
    if stored is None:
        return None, [f"{HDF5_NAME}: no dataset {HDF5_MASKS!r}"]
    expected = (count, recipe.size, recipe.size)
    if not isinstance(stored, h5py.Dataset) or stored.dtype != np.uint8 or stored.shape != expected:
        if isinstance(stored, h5py.Dataset) and len(stored.shape) == 3:
            try:
                IMAGE_LIMIT.check(f"{HDF5_NAME}: masks", stored.shape[2], stored.shape[1])
            except ValueError as error:
                return None, [first_line(error)]
        return None, [
            f"{HDF5_NAME}: masks is {_kind(stored)}, expected uint8 of shape {expected} (the manifest's "
            "masks at the benchmark's size)"
        ]
    return stored, []


def _open_hdf5(path: Path) -> h5py.File:
    """``path`` opened for reading; h5py's own message ("file signature not found") names no file."""
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ValueError(f"{path}: not a readable HDF5 file ({first_line(error)})") from None


def verify_benchmark(folder: Path, *, progress: bool = False) -> list[str]:
    """Every violation found in the benchmark or release ``folder``, one line each (empty: all good)."""
    folder = Path(folder)
    records, build, recipe = _load(folder)
    problems = _checksums(folder) if (folder / SUMS_NAME).is_file() else []
    problems += _check_order(records, recipe)
    problems += _unlisted(folder, records)
    h5_path = folder / HDF5_NAME
    if not h5_path.is_file():
        problems.append(f"{HDF5_NAME}: missing")
    with _open_hdf5(h5_path) if h5_path.is_file() else contextlib.nullcontext(None) as h5:
        stored = None
        if h5 is not None:
            problems += _check_hdf5_tables(folder, h5, build)
            stored, found = _masks_dataset(h5, len(records), recipe)
            problems += found
        problems += _check_masks(folder, records, recipe, stored, progress=progress)
    return problems


def _load(folder: Path) -> tuple[list[BenchRecord], dict[str, Any], BenchRecipe]:
    """The manifest's records, build.json and the recipe it states."""
    records = read_benchmark(folder)
    build_path = folder / BUILD_NAME
    if not build_path.is_file():
        raise ValueError(f"{folder}: no {BUILD_NAME}, so the benchmark's parameters are unknown")
    build = read_json_object(build_path, required={"params": dict})
    return records, build, _recipe(build_path, build)


def _unlisted(folder: Path, records: list[BenchRecord]) -> list[str]:
    """Files in ``masks/`` that the manifest does not list."""
    listed = {record.file for record in records}
    return [
        f"{path.relative_to(folder).as_posix()}: in {MASK_DIR}/ but not in the manifest"
        for path in sorted((folder / MASK_DIR).rglob("*"))
        if path.is_file() and path.relative_to(folder).as_posix() not in listed
    ]


def _check_masks(
    folder: Path,
    records: list[BenchRecord],
    recipe: BenchRecipe,
    stored: h5py.Dataset | None,
    *,
    progress: bool,
) -> list[str]:
    """Every mask file against its row, the masks before it (duplicates) and its copy in ``stored``."""
    problems = []
    seen: dict[bytes, str] = {}
    for index, record in enumerate(progress_bar(records, desc="verify", enabled=progress, unit="mask")):
        found, data, image = _check_mask(folder, record, recipe)
        problems += found
        if data is None:
            continue
        if data in seen:
            problems.append(f"{record.file}: identical to {seen[data]}")
        seen.setdefault(data, record.file)
        if stored is not None and image is not None and not np.array_equal(stored[index], image):
            problems.append(f"{HDF5_NAME}: mask {index} differs from {record.file}")
    return problems


def checks_made(folder: Path) -> list[str]:
    """What :func:`verify_benchmark` checks in ``folder``, one line each with its counts: what "every
    check passed" stands for. Reads only the manifest, build.json and SHA256SUMS."""
    folder = Path(folder)
    records, build, recipe = _load(folder)
    count, blocks = len(records), len(recipe.edges) - 1
    with open(folder / CSV_NAME, newline="", encoding="utf-8") as handle:
        columns = len(next(csv.reader(handle), []))
    splits = {split: sum(record.split == split for record in records) for split in SPLITS}
    lines = []
    if (folder / SUMS_NAME).is_file():
        sums = len((folder / SUMS_NAME).read_text(encoding="utf-8").splitlines())
        lines.append(f"checksums: {sums:,} files against {SUMS_NAME}, none unlisted")
    return [
        *lines,
        f"checksums: {count:,} masks against the manifest's sha256",
        f"layout: {count:,} masks listed, none missing, none unlisted in {MASK_DIR}/",
        f"counts and order: {blocks} bins x {len(SPLITS)} splits x {recipe.per_bin:,} masks, bins ascending, "
        "N before B",
        f"pixels: {count:,} masks 8-bit single-channel, only 0 and 255, {recipe.size}x{recipe.size}",
        f"bins: {count:,} hole ratios recomputed, each equal to the manifest's and inside its bin",
        f"border: {splits['N']:,} N masks without a hole within {recipe.border} px of the edge, "
        f"{splits['B']:,} B masks with one",
        f"duplicates: none among {count:,} masks",
        f"{HDF5_NAME}: {count:,} masks equal to the PNGs, {columns} manifest columns, "
        f"{len(build['params'])} build parameters",
    ]

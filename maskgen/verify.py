"""Checking a benchmark or a published release (``pconv masks verify DIR``).

Recomputes everything a user relies on and lists every violation, one line each:

* checksums: every line of ``SHA256SUMS`` when there is one, and every row's ``sha256`` in the manifest;
* layout: no mask missing, no unlisted file in ``masks/``, files numbered in order;
* counts: ``per_bin`` masks per bin and split, the total;
* order: NVIDIA's blocks, bins ascending, N before B inside each;
* every mask: 8-bit single channel, only 0 and 255, the benchmark's size, its hole ratio (recomputed)
  equal to the manifest's and inside its bin, its border distance and split per the border rule
  (the shared :func:`maskgen.bins.mask_stats`); no two masks identical;
* ``masks.h5`` when present: the same masks as the PNGs.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import cv2
import h5py
import numpy as np

from maskgen.bench import BenchRecipe, BenchRecord, read_benchmark
from maskgen.bins import SPLITS, bin_index, mask_stats
from maskgen.maskset import BUILD_NAME, HDF5_NAME, MASK_DIR, mask_file
from maskgen.progress import progress_bar
from maskgen.publish import SUMS_NAME

__all__ = ["verify_benchmark"]


def _checksums(folder: Path) -> list[str]:
    problems = []
    listed = set()
    for number, line in enumerate((folder / SUMS_NAME).read_text(encoding="utf-8").splitlines(), start=1):
        digest, _, name = line.partition("  ")
        if not name:
            problems.append(f"{SUMS_NAME}:{number}: not a 'digest  path' line")
            continue
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in {SUMS_NAME} but missing")
        elif hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            problems.append(f"{name}: checksum differs from {SUMS_NAME}")
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and name != SUMS_NAME and name not in listed:
            problems.append(f"{name}: not listed in {SUMS_NAME}")
    return problems


def _check_mask(folder: Path, record: BenchRecord,
                recipe: BenchRecipe) -> tuple[list[str], bytes | None, np.ndarray | None]:
    """Problems of one mask file, its bytes (None when missing) and its pixels (None when unreadable)."""
    path = folder / record.file
    if not path.is_file():
        return [f"{record.file}: missing"], None, None
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
        problems.append(f"{record.file}: {image.shape[1]}x{image.shape[0]} px, "
                        f"expected {recipe.size}x{recipe.size}")
    values = np.flatnonzero(cv2.calcHist([image], [0], None, [256], [0, 256]).ravel())
    if not set(values.tolist()) <= {0, 255}:
        problems.append(f"{record.file}: pixel values {values.tolist()[:6]}, expected only 0 and 255")
    stats = mask_stats(image >= 128, border=recipe.border, edges=recipe.edges)
    if stats.hole_ratio != record.hole_ratio:
        problems.append(f"{record.file}: hole ratio {stats.hole_ratio!r}, "
                        f"manifest says {record.hole_ratio!r}")
    if stats.bin != record.bin:
        problems.append(f"{record.file}: hole ratio {stats.hole_ratio:.6f} lies outside its bin "
                        f"({record.bin_low:g},{record.bin_high:g}]")
    if stats.split != record.split or stats.border_distance != record.border_distance:
        problems.append(f"{record.file}: border distance {stats.border_distance} px makes it {stats.split} "
                        f"(border {recipe.border} px), manifest says {record.split} at "
                        f"{record.border_distance} px")
    return problems, data, image


def _check_order(records: list[BenchRecord], recipe: BenchRecipe) -> list[str]:
    problems = []
    if len(records) != recipe.count:
        problems.append(f"manifest: {len(records)} masks, expected {recipe.count} "
                        f"({len(recipe.edges) - 1} bins x 2 splits x {recipe.per_bin})")
    counts: dict[tuple[int, str], int] = {}
    for index, record in enumerate(records):
        counts[record.bin, record.split] = counts.get((record.bin, record.split), 0) + 1
        block, split, _ = recipe.slot(index)
        expected = (mask_file(index, recipe.count), block, SPLITS[split])
        if (record.file, record.bin, record.split) != expected:
            problems.append(f"manifest row {index + 1}: {record.file} bin {record.bin} {record.split}, "
                            f"expected {expected[0]} bin {block} {SPLITS[split]} (NVIDIA order)")
        if bin_index(record.hole_ratio, recipe.edges) != record.bin:
            problems.append(f"{record.file}: manifest ratio {record.hole_ratio} is not in bin {record.bin}")
    for block in range(len(recipe.edges) - 1):
        for split in SPLITS:
            if counts.get((block, split), 0) != recipe.per_bin:
                problems.append(f"bin {block} {split}: {counts.get((block, split), 0)} masks, "
                                f"expected {recipe.per_bin}")
    return problems


def verify_benchmark(folder: Path, *, progress: bool = False) -> list[str]:
    """Every violation found in the benchmark or release ``folder``, one line each (empty: all good)."""
    folder = Path(folder)
    records = read_benchmark(folder)
    build = folder / BUILD_NAME
    if not build.is_file():
        raise ValueError(f"{folder}: no {BUILD_NAME}, so the benchmark's parameters are unknown")
    params = json.loads(build.read_text(encoding="utf-8"))["params"]
    recipe = BenchRecipe(per_bin=params["per_bin"], size=params["size"], border=params["border"],
                         seed=params["seed"], edges=tuple(params["bin_edges"]))
    problems = _checksums(folder) if (folder / SUMS_NAME).is_file() else []
    problems += _check_order(records, recipe)
    listed = {record.file for record in records}
    problems += [f"{path.relative_to(folder).as_posix()}: in {MASK_DIR}/ but not in the manifest"
                 for path in sorted((folder / MASK_DIR).rglob("*"))
                 if path.is_file() and path.relative_to(folder).as_posix() not in listed]
    seen: dict[bytes, str] = {}
    h5_path = folder / HDF5_NAME
    with h5py.File(h5_path, "r") if h5_path.is_file() else contextlib.nullcontext(None) as h5:
        stored = h5["masks"] if h5 is not None else None
        if stored is not None and stored.shape[0] != len(records):
            problems.append(f"{HDF5_NAME}: {stored.shape[0]} masks, manifest has {len(records)}")
            stored = None
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


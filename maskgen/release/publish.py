"""Preparing a built benchmark for release (``pconv masks publish BENCH --out DIST``).

``DIST`` holds::

    README.md                 the dataset card: what, where the masks came from (generated scenes or
                              named videos), how many raw masks, the dilation, every parameter and seed,
                              per-bin counts and ratio statistics, shape and diversity figures
                              (pconv.maskgen.release.external, as `pconv masks stats` prints them), the
                              255 = hole convention, licence, citation
    SHA256SUMS                ``sha256sum -c`` format, every other file of DIST
    masks/*.png, manifest.csv, masks.h5, build.json     one copy of the benchmark itself
    masks.zip                 only with ``archive``: the PNGs and manifest.csv in one archive (stored,
                              fixed timestamps), for hosts that want a single file
    contact_sheets/binK_N.png ... and overview.png       mask grids per bin and split, like the paper's Fig. 4
    hole_ratio_histogram.png  masks per 0.01 of hole ratio, N and B stacked

Everything is built in a temporary folder beside ``DIST`` and renamed into place, so a failed publish
leaves nothing half-written; the same benchmark gives the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import zipfile
from pathlib import Path

import cv2
import numpy as np
from pconv.core.files import (
    atomic_write_bytes,
    atomic_write_text,
    inside,
    read_json_object,
    refuse_overlap,
    sha256_file,
    temporary_name,
)
from pconv.core.masks import encode_png
from pconv.core.progress import progress_bar
from pconv.maskgen.release.external import MaskSetStats, mask_set_stats, measure_masks, stats_table
from pconv.maskgen.release.verify import SUMS_NAME, verify_benchmark
from pconv.maskgen.sets.bench import BenchRecord, load_benchmark_hole, read_benchmark
from pconv.maskgen.sets.bins import SPLITS, bin_folder_name, bin_label
from pconv.maskgen.sets.default_input import INPUT_DIR
from pconv.maskgen.sets.maskset import BUILD_NAME, CSV_NAME, HDF5_NAME

__all__ = ["ARCHIVE_NAME", "CARD_NAME", "SUMS_NAME", "contact_sheet", "publish_benchmark", "ratio_histogram"]

CARD_NAME = "README.md"
ARCHIVE_NAME = "masks.zip"
SHEET_DIR = "contact_sheets"
HISTOGRAM_NAME = "hole_ratio_histogram.png"
SHEET_SIDE = 4  # masks per row and column of a contact sheet
THUMB = 128  # px per thumbnail
FONT = cv2.FONT_HERSHEY_SIMPLEX
CITATION = """@inproceedings{liu2018partialinpainting,
  title     = {Image Inpainting for Irregular Holes Using Partial Convolutions},
  author    = {Liu, Guilin and Reda, Fitsum A. and Shih, Kevin J. and Wang, Ting-Chun and Tao, Andrew
               and Catanzaro, Bryan},
  booktitle = {European Conference on Computer Vision (ECCV)},
  year      = {2018}
}"""
NVIDIA_SHAPES = "thickness 11.0 px, boundary 13.6 per 100 hole px, 8 components, roughness 1.73"
"""Shape medians of NVIDIA's released test masks (ratio 0.1-0.6, a sample; see the README), for comparison."""


def _caption(image: np.ndarray, text: str, height: int = 28) -> np.ndarray:
    """``image`` (H, W) uint8 with a white caption bar of ``text`` on top."""
    bar = np.full((height, image.shape[1]), 255, np.uint8)
    cv2.putText(bar, text, (6, height - 9), FONT, 0.5, 0, 1, cv2.LINE_AA)
    return np.vstack([bar, image])


def contact_sheet(holes: list[np.ndarray], *, columns: int, title: str) -> np.ndarray:
    """A grid of mask thumbnails (white = hole, grey grid lines) under a caption.

    Shape: each hole ``(H, W)`` bool; returns ``(28 + rows * (THUMB + 2), columns * (THUMB + 2))`` uint8.
    """
    rows = max(1, -(-len(holes) // columns))
    grid = np.full((rows * (THUMB + 2), columns * (THUMB + 2)), 128, np.uint8)
    for number, hole in enumerate(holes):
        row, col = divmod(number, columns)
        thumb = cv2.resize(hole.view(np.uint8) * np.uint8(255), (THUMB, THUMB), interpolation=cv2.INTER_AREA)
        grid[
            row * (THUMB + 2) + 1 : row * (THUMB + 2) + 1 + THUMB,
            col * (THUMB + 2) + 1 : col * (THUMB + 2) + 1 + THUMB,
        ] = thumb
    return _caption(grid, title)


def ratio_histogram(records: list[BenchRecord], *, step: float = 0.01) -> np.ndarray:
    """Masks per ``step`` of hole ratio, N (dark) and B (light) stacked, with labelled axes.

    Returns ``(480, 900, 3)`` uint8 BGR.
    """
    height, width, left, bottom, top, right = 480, 900, 80, 60, 40, 20
    image = np.full((height, width, 3), 255, np.uint8)
    top_ratio = max(0.7, max(record.hole_ratio for record in records) + step)
    bins = round(top_ratio / step)
    counts = {split: np.zeros(bins, int) for split in SPLITS}
    for record in records:
        counts[record.split][min(bins - 1, int(record.hole_ratio / step))] += 1
    peak = max(1, int((counts["N"] + counts["B"]).max()))
    plot_w, plot_h = width - left - right, height - top - bottom
    colours = {"N": (140, 70, 20), "B": (230, 170, 90)}
    for index in range(bins):
        x0 = left + int(index * plot_w / bins)
        x1 = left + int((index + 1) * plot_w / bins) - 1
        base = 0
        for split in SPLITS:
            value = counts[split][index]
            if value:
                y0 = height - bottom - int((base + value) * plot_h / peak)
                y1 = height - bottom - int(base * plot_h / peak)
                cv2.rectangle(image, (x0, y0), (x1, y1), colours[split], -1)
            base += value
    cv2.line(image, (left, height - bottom), (width - right, height - bottom), (0, 0, 0), 1)
    cv2.line(image, (left, top), (left, height - bottom), (0, 0, 0), 1)
    for tick in np.arange(0, top_ratio + 1e-9, 0.1):
        x = left + int(tick / top_ratio * plot_w)
        cv2.line(image, (x, height - bottom), (x, height - bottom + 5), (0, 0, 0), 1)
        cv2.putText(
            image, f"{tick:.1f}", (x - 12, height - bottom + 20), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA
        )
    for tick in np.linspace(0, peak, 5):
        y = height - bottom - int(tick / peak * plot_h)
        cv2.line(image, (left - 5, y), (left, y), (0, 0, 0), 1)
        cv2.putText(image, f"{round(tick)}", (left - 45, y + 5), FONT, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    cv2.putText(
        image, "hole ratio", (left + plot_w // 2 - 40, height - 15), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA
    )
    label = np.full((24, 160, 3), 255, np.uint8)
    cv2.putText(label, f"masks per {step:g}", (4, 17), FONT, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    rotated = cv2.rotate(label, cv2.ROTATE_90_COUNTERCLOCKWISE)
    y = top + plot_h // 2 - rotated.shape[0] // 2
    image[y : y + rotated.shape[0], 4 : 4 + rotated.shape[1]] = rotated
    cv2.putText(
        image, f"Hole ratios of {len(records)} masks", (left, 25), FONT, 0.6, (0, 0, 0), 1, cv2.LINE_AA
    )
    for number, split in enumerate(SPLITS):
        x = width - right - 220 + number * 110
        cv2.rectangle(image, (x, 14), (x + 14, 28), colours[split], -1)
        cv2.putText(image, f"{split} masks", (x + 20, 27), FONT, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return image


def _groups(records: list[BenchRecord]) -> dict[tuple[int, str], list[BenchRecord]]:
    """Records by (bin, split), in file order: bins ascending, N before B."""
    groups: dict[tuple[int, str], list[BenchRecord]] = {}
    for record in records:
        groups.setdefault((record.bin, record.split), []).append(record)
    return groups


def _provenance(records: list[BenchRecord], params: dict, accumulation: dict | None) -> list[str]:
    """Where the masks came from, said plainly: generated scenes or named videos, raw masks (single frame
    pairs or unions of several: ``pconv masks accumulate``), dilation."""
    sources = {record.source for record in records}
    generated = all(source.startswith(f"{INPUT_DIR}/") for source in sources)
    uses: dict[int, int] = {}
    for record in records:
        uses[record.raw_id] = uses.get(record.raw_id, 0) + 1
    low, high = params["dilation"]
    origin = (
        f"**generated scenes**, not real video: the {len(sources)} scenes of the toolkit's built-in default "
        "input (`pconv masks synth`: textured layers moving over each other), whose occlusions were "
        "extracted like a video's"
        if generated
        else f"the {len(sources)} videos or frame folders listed under Sources"
    )
    if accumulation is None:
        raw = "occlusion maps of one frame pair each"
    else:
        pairs = accumulation["pairs_per_mask"]
        raw = (
            f"each the union of the occlusion maps of {pairs['min']} to {pairs['max']} frame pairs (median "
            f"{pairs['median']:g}) of one video, at least {accumulation['gap']} frames apart, joined until a "
            f"hole ratio drawn from {accumulation['density'][0]:g}-{accumulation['density'][1]:g} is "
            "reached (`pconv masks accumulate`)"
        )
    return [
        f"The masks come from {origin}. They use {len(uses)} distinct raw masks ({raw}); the most used one "
        f"makes {max(uses.values())} masks. Each was dilated with a "
        f"{params['kernel']} kernel of radius {low} to {high} px, rotated by at most {params['max_angle']} "
        "degrees, scaled and cropped.",
    ]


def _shape_section(stats: MaskSetStats, edges: list[float]) -> list[str]:
    return [
        "## Shapes and diversity",
        "",
        "As `pconv masks stats` prints them: per bin and split the hole ratios (`low 10%`: the share in the "
        "lowest tenth of the bin), then the shape medians with every mask scaled to 256 px on its longer "
        "side (thickness: 2 × the mean distance of hole pixels to a valid one; boundary: hole pixels "
        "touching a valid one per 100; components: 8-connected holes; roughness: contour length / convex "
        "hull perimeter), the near-duplicate rate (best IoU with another mask of the cell > 0.9 at 64×64) "
        f"and the raw masks used. For comparison, NVIDIA's released test masks: {NVIDIA_SHAPES}.",
        "",
        "```text",
        stats_table(stats, edges=edges),
        "```",
        "",
    ]


def _card(
    records: list[BenchRecord], build: dict, license_name: str, stats: MaskSetStats, *, archive: bool
) -> str:
    params, edges = build["params"], build["params"]["bin_edges"]
    lines = [
        "# Irregular hole mask benchmark",
        "",
        f"{len(records)} binary hole masks of {params['size']}x{params['size']} px for evaluating image "
        "inpainting, made the way Liu et al. (ECCV 2018) made their test set: occlusion masks found by "
        "forward-backward optical flow between video frames, dilated, rotated and cropped, then sorted "
        "into six hole-ratio bins, each with an N split (no hole within "
        f"{params['border']} px of the border) and a B split (holes touching that band).",
        "",
        "## Convention",
        "",
        "`masks/NNNNN.png`: 8-bit single-channel PNG, **255 = hole**, 0 = valid (NVIDIA's test-set "
        f"convention). Files come in blocks of {2 * params['per_bin']} per bin in ascending hole ratio, "
        f"each block first its {params['per_bin']} N masks, then its {params['per_bin']} B masks. Bins are "
        "open below and closed above. `manifest.csv` has a row per mask (bin, bounds, split, hole ratio, "
        "smallest distance of a hole to the border, raw mask, source video, frame, dilation, angle, crop, "
        "seed); "
        "`masks.h5` holds the same masks as one `masks` dataset (N, H, W) plus the manifest's columns.",
        "",
        "## How it was made",
        "",
        f"Made by `pconv masks benchmark` (pconv-toolkit {build['version']}) from the test split of a raw "
        f"mask pool (digest `{build['raw_pool'][:16]}`). Each mask is aimed at its bin: a random rotated "
        "crop window is chosen where the pool's holes can reach the bin, then a dilation radius that lands "
        "inside it; N masks are clipped to a hole-free frame. Mask i is drawn from a generator seeded by "
        "(seed, bin, split, position, attempt), so the same pool and seed rebuild identical files.",
        "",
        *_provenance(records, params, build.get("raw_accumulation")),
        "",
        "| parameter | value |",
        "|---|---|",
        *[f"| {key} | {json.dumps(value)} |" for key, value in sorted(params.items())],
        "",
        "## Per-bin counts and hole-ratio statistics",
        "",
        "| bin | split | masks | min ratio | mean ratio | max ratio | mean border distance (px) |",
        "|---|---|---|---|---|---|---|",
    ]
    for (index, split), group in _groups(records).items():
        ratios = [record.hole_ratio for record in group]
        distance = statistics.fmean(record.border_distance for record in group)
        lines.append(
            f"| {bin_label(index, edges)} | {split} | {len(group)} | {min(ratios):.4f} | "
            f"{statistics.fmean(ratios):.4f} | {max(ratios):.4f} | {distance:.1f} |"
        )
    sources: dict[str, int] = {}
    for record in records:
        sources[record.source] = sources.get(record.source, 0) + 1
    archived = f"`{ARCHIVE_NAME}` (the PNGs and manifest in one archive), " if archive else ""
    lines += [
        "",
        *_shape_section(stats, edges),
        "## Sources",
        "",
        "Paths are relative to the benchmark folder the masks were built in.",
        "",
        "| source video | masks |",
        "|---|---|",
        *[f"| {source} | {count} |" for source, count in sorted(sources.items())],
        "",
        "## Files",
        "",
        f"`masks/` (the PNGs), `{CSV_NAME}`, `{HDF5_NAME}` (the same masks and manifest in one file), "
        f"`{BUILD_NAME}`, {archived}`{SHEET_DIR}/` (mask grids per bin and split), `{HISTOGRAM_NAME}`, "
        f"`{SUMS_NAME}` (check with `sha256sum -c {SUMS_NAME}` or `pconv masks verify .`).",
        "",
        "## Licence",
        "",
        license_name,
        "",
        "## Citation",
        "",
        "Please cite the paper whose protocol this benchmark follows:",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)


def _place(source: Path, target: Path) -> None:
    """Copy ``source`` to ``target`` (copies, not links: editing the release must not change BENCH)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)


def _archive(folder: Path, records: list[BenchRecord]) -> None:
    with zipfile.ZipFile(folder / ARCHIVE_NAME, "w", zipfile.ZIP_STORED) as archive:
        for name in [record.file for record in records] + [CSV_NAME]:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            archive.writestr(info, (folder / name).read_bytes())


def _check_destination(bench: Path, out: Path, overwrite: bool) -> None:
    """Refuse a release folder that would destroy the benchmark or anything that is not a release."""
    refuse_overlap(out, {"BENCH": bench})
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not overwrite:
            raise ValueError(f"{out} is not empty; pass --overwrite to replace an earlier release")
        if not (out / SUMS_NAME).is_file():
            raise ValueError(
                f"{out} is not an earlier release (no {SUMS_NAME}); --overwrite replaces "
                "only releases, so choose an empty or new folder"
            )


def publish_benchmark(
    bench: Path,
    out: Path,
    *,
    license_name: str = "CC-BY-4.0",
    archive: bool = False,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Prepare the benchmark ``bench`` for release in ``out``; return ``out``.

    The benchmark is verified first (:func:`~pconv.maskgen.release.verify.verify_benchmark`): a release's
    checksums
    must never certify a damaged mask. ``overwrite`` replaces only an earlier release (a folder with
    ``SHA256SUMS``), never the benchmark itself or a folder around it. ``archive`` adds ``masks.zip``
    (a third copy of every mask, so only on request).
    """
    bench, out = Path(bench), Path(out)
    records = read_benchmark(bench)
    if not (bench / BUILD_NAME).is_file():
        raise ValueError(f"{bench}: no {BUILD_NAME}; publish a folder made by `pconv masks benchmark`")
    build = read_json_object(bench / BUILD_NAME, required={"params": dict})
    _check_destination(bench, out, overwrite)
    problems = verify_benchmark(bench, progress=progress)
    if problems:
        more = (
            f" (and {len(problems) - 1} more; see `pconv masks verify {bench}`)" if len(problems) > 1 else ""
        )
        raise ValueError(f"{bench} fails verification, not publishing it: {problems[0]}{more}")
    temp = temporary_name(out)
    shutil.rmtree(temp, ignore_errors=True)
    try:
        bar = progress_bar(total=len(records) + 3, desc="publish", enabled=progress, unit="file")
        for name in [record.file for record in records]:
            _place(inside(bench, name), temp / name)
            bar.update(1)
        for name in (CSV_NAME, HDF5_NAME, BUILD_NAME):
            _place(bench / name, temp / name)
        if archive:
            _archive(temp, records)
        bar.update(1)
        edges = build["params"]["bin_edges"]
        measures, thumbnails = measure_masks(bench, border=build["params"]["border"], edges=edges)
        stats = mask_set_stats("benchmark", measures, thumbnails, edges=edges)
        overview = []
        for (index, split), group in _groups(records).items():
            holes = [load_benchmark_hole(temp, record) for record in group[: SHEET_SIDE * SHEET_SIDE]]
            title = f"bin {bin_label(index, edges)} {split}: {len(holes)} of {len(group)} (white = hole)"
            sheet = contact_sheet(holes, columns=SHEET_SIDE, title=title)
            atomic_write_bytes(
                temp / SHEET_DIR / f"{bin_folder_name(index, edges)}_{split}.png", encode_png(sheet)
            )
            overview.append((index, split, holes[:SHEET_SIDE]))
        rows = [
            contact_sheet(
                [*n_holes, *b_holes],
                columns=2 * SHEET_SIDE,
                title=f"bin {bin_label(index, edges)}: N (left), B (right)",
            )
            for (index, _, n_holes), (_, _, b_holes) in zip(overview[::2], overview[1::2], strict=True)
        ]
        atomic_write_bytes(temp / SHEET_DIR / "overview.png", encode_png(np.vstack(rows)))
        atomic_write_bytes(temp / HISTOGRAM_NAME, encode_png(ratio_histogram(records)))
        atomic_write_text(temp / CARD_NAME, _card(records, build, license_name, stats, archive=archive))
        bar.update(1)
        files = sorted(path.relative_to(temp).as_posix() for path in temp.rglob("*") if path.is_file())
        sums = "".join(f"{sha256_file(temp / name)}  {name}\n" for name in files)
        atomic_write_text(temp / SUMS_NAME, sums)
        bar.update(1)
        bar.close()
        if out.exists():
            shutil.rmtree(out)
        os.replace(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return out

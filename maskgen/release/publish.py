"""Preparing a built benchmark for release (``pconv masks publish BENCH --out DIST``).

``DIST`` holds::

    README.md                 the dataset card: what, where the masks came from (generated scenes or
                              named videos), how many raw masks, the dilation, every parameter and seed,
                              per-bin counts and ratio statistics, shape and diversity figures
                              (pconv.maskgen.measure, as `pconv masks stats` prints them), the
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
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

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
from pconv.maskgen.measure.folder import measure_masks
from pconv.maskgen.measure.shapes import NVIDIA_TEST_MEDIANS
from pconv.maskgen.measure.tables import (
    MaskSetStats,
    compare_table,
    mask_set_stats,
    medians_by_group,
    ratio_table,
    stats_table,
)
from pconv.maskgen.release.figures import contact_sheet, ratio_histogram, side_by_side
from pconv.maskgen.release.hub import METADATA_NAME, Feature, front_matter, loading_section, metadata_jsonl
from pconv.maskgen.release.page import PAGE_NAME, STRIP_LENGTH, Strip, release_page
from pconv.maskgen.release.verify import SUMS_NAME, verify_benchmark
from pconv.maskgen.sets.augment import magnification_summary
from pconv.maskgen.sets.bench_format import (
    BUILD_NAME,
    CSV_NAME,
    HDF5_NAME,
    BenchRecord,
    bin_folder_name,
    bin_label,
    load_benchmark_hole,
    read_benchmark,
)
from pconv.maskgen.sets.default_input import rendered_scenes
from pconv.maskgen.sets.tar_shards import DEFAULT_PER_SHARD, SHARD_DIR, write_shards

__all__ = [
    "ARCHIVE_NAME",
    "BENCH_FEATURES",
    "CARD_NAME",
    "CITATION",
    "HUB_SPLIT",
    "SUMS_NAME",
    "check_destination",
    "comparison",
    "comparison_section",
    "publish_benchmark",
    "seal",
    "strips",
    "write_card_and_page",
    "write_formats",
    "write_pictures",
]

CARD_NAME = "README.md"
ARCHIVE_NAME = "masks.zip"
SHEET_DIR = "contact_sheets"
HISTOGRAM_NAME = "hole_ratio_histogram.png"
SHEET_SIDE = 4  # masks per row and column of a contact sheet
CITATION = """@inproceedings{liu2018partialinpainting,
  title     = {Image Inpainting for Irregular Holes Using Partial Convolutions},
  author    = {Liu, Guilin and Reda, Fitsum A. and Shih, Kevin J. and Wang, Ting-Chun and Tao, Andrew
               and Catanzaro, Bryan},
  booktitle = {European Conference on Computer Vision (ECCV)},
  year      = {2018}
}"""
HUB_SPLIT = "test"
BENCH_FEATURES = (
    Feature("file", "string", "the mask's path in the release (`masks/00042.png`)"),
    Feature("bin", "int64", "hole-ratio bin, 0-based in ascending ratio"),
    Feature("bin_label", "string", "the bin as the paper writes it, e.g. `(0.01,0.1]`"),
    Feature("split", "string", "`N`: no hole within the border band; `B`: holes inside it"),
    Feature("hole_ratio", "float64", "hole pixels / all pixels"),
    Feature("border_distance", "int64", "smallest distance of a hole pixel to the image edge, px"),
    Feature("raw_id", "int64", "the raw (occlusion) mask it was cut from"),
    Feature("source", "string", "the video or frame folder of that raw mask"),
    Feature("frame", "int64", "the frame of that raw mask"),
    Feature("seed", "int64", "the benchmark's seed"),
)
"""The fields of every mask in ``metadata.jsonl``, the card's front matter and the WebDataset JSON."""


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
    rendered = {rendered_scenes(source) for source in sources}
    uses: dict[int, int] = {}
    for record in records:
        uses[record.raw_id] = uses.get(record.raw_id, 0) + 1
    low, high = params["dilation"]
    scales = magnification_summary([record.scale for record in records])
    origin = (
        f"**generated scenes**, not real video: {len(sources)} of the {max(rendered)} scenes rendered for "
        "the toolkit's built-in default input (`pconv masks synth`: textured layers moving over each other), "
        "whose occlusions were extracted like a video's"
        if None not in rendered
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
        f"degrees, magnified {scales['min']:g} to {scales['max']:g} times (median {scales['median']:g}; "
        "nearest neighbour) so the crop fits inside the source frame, and cropped. "
        + (
            "Raw masks that had to be magnified were thinned first by what the magnification adds, so "
            "strokes keep their width in the source."
            if params.get("source_width")
            else "Magnifying widens every stroke as much."
        )
        + _shaping(params),
    ]


def _shaping(params: dict) -> str:
    """The two steps that shape masks like NVIDIA's per cell, when the benchmark used them (older
    benchmarks' build.json has neither)."""
    said = ""
    preferred = params.get("preferred_dilation")
    if preferred:
        ranges = ", ".join(f"{low}-{high}" for low, high in preferred["N"])
        said += (
            f" Each bin × split first tries the radii that give NVIDIA's stroke width there (N masks, bin by "
            f"bin: {ranges} px), and the crop and raw mask that reach its ratio with them."
        )
    if params.get("min_component"):
        said += f" Hole components under {params['min_component']} px were removed (specks of flow noise)."
    return said


def comparison(
    compare: Path | None, *, hole_value: int, border: int, edges: Sequence[float], progress: bool
) -> MaskSetStats | None:
    """The stats of the ``--compare`` folder (another mask set, e.g. NVIDIA's), measured like ours."""
    if compare is None:
        return None
    measures, thumbnails = measure_masks(
        compare, hole_value=hole_value, border=border, edges=edges, progress=progress
    )
    return mask_set_stats(Path(compare).name, measures, thumbnails, edges=edges)


def comparison_section(stats: MaskSetStats, other: MaskSetStats | None, edges: Sequence[float]) -> list[str]:
    """The card's rows of ``pconv masks stats --compare``: each group's shape row for both sets."""
    if other is None:
        return []
    return [
        f"Side by side with `{other.name}`, measured the same way (as `pconv masks stats --compare` "
        "prints it):",
        "",
        "```text",
        compare_table(stats, other, edges=edges),
        "",
        ratio_table(stats, other.name, medians_by_group(other), edges=edges),
        "```",
        "",
    ]


def _shape_section(stats: MaskSetStats, edges: list[float], other: MaskSetStats | None) -> list[str]:
    return [
        "## Shapes and diversity",
        "",
        "As `pconv masks stats` prints them: per bin and split the hole ratios (`low 10%`: the share in the "
        "lowest tenth of the bin), then the shape medians with every mask scaled to 256 px on its longer "
        "side (thickness: 2 × the mean distance of hole pixels to a valid one; boundary: hole pixels "
        "touching a valid one per 100; components: 8-connected holes; roughness: contour length / convex "
        "hull perimeter), the near-duplicate rate (best IoU with another mask of the cell > 0.9 at 64×64) "
        "and the raw masks used. Below it, each group's medians over those of NVIDIA's whole released test "
        "set (12,000 masks, measured the same way), which this benchmark aims at.",
        "",
        "```text",
        stats_table(stats, edges=edges),
        "",
        ratio_table(stats, "NVIDIA test set", dict(NVIDIA_TEST_MEDIANS), edges=edges),
        "```",
        "",
        *comparison_section(stats, other, edges),
    ]


def _card(
    records: list[BenchRecord],
    build: dict,
    license_name: str,
    stats: MaskSetStats,
    other: MaskSetStats | None,
    *,
    archive: bool,
    shards: int | None,
    per_shard: int,
) -> str:
    """The dataset card (markdown, without its front matter): one section after the other."""
    edges = build["params"]["bin_edges"]
    lines = [
        *_card_intro(records, build["params"]),
        *loading_section(split=HUB_SPLIT, features=BENCH_FEATURES, shards=shards, per_shard=per_shard),
        *_card_making(records, build),
        *_card_counts(records, edges),
        "",
        *_shape_section(stats, edges, other),
        *_card_sources(records),
        *_card_files(archive=archive, shards=shards),
        *_card_closing(license_name),
    ]
    return "\n".join(lines)


def _card_intro(records: list[BenchRecord], params: dict) -> list[str]:
    """What the masks are and their convention."""
    return [
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
    ]


def _card_making(records: list[BenchRecord], build: dict) -> list[str]:
    """How the masks were made: the command, the seeding, their provenance and every parameter."""
    params = build["params"]
    return [
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
    ]


def _card_counts(records: list[BenchRecord], edges: Sequence[float]) -> list[str]:
    """Masks and hole-ratio statistics per bin and split."""
    lines = [
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
    return lines


def _card_sources(records: list[BenchRecord]) -> list[str]:
    """The masks each source video (or frame folder) gave."""
    sources: dict[str, int] = {}
    for record in records:
        sources[record.source] = sources.get(record.source, 0) + 1
    return [
        "## Sources",
        "",
        "Paths are relative to the benchmark folder the masks were built in.",
        "",
        "| source video | masks |",
        "|---|---|",
        *[f"| {source} | {count} |" for source, count in sorted(sources.items())],
        "",
    ]


def _card_files(*, archive: bool, shards: int | None) -> list[str]:
    """The release's files, the optional ones only when written."""
    archived = f"`{ARCHIVE_NAME}` (the PNGs and manifest in one archive), " if archive else ""
    sharded = f"`{SHARD_DIR}/` (WebDataset tar shards), " if shards is not None else ""
    return [
        "## Files",
        "",
        f"`{PAGE_NAME}` (this card with example masks, to open in a browser), `masks/` (the PNGs), "
        f"`{CSV_NAME}`, `{METADATA_NAME}` (the fields per mask for `datasets`), `{HDF5_NAME}` (the same "
        f"masks and manifest in one file), `{BUILD_NAME}`, {archived}{sharded}`{SHEET_DIR}/` (mask grids "
        f"per bin and split), `{HISTOGRAM_NAME}`, `{SUMS_NAME}` (check with `sha256sum -c {SUMS_NAME}` or "
        "`pconv masks verify .`).",
        "",
    ]


def _card_closing(license_name: str) -> list[str]:
    return [
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


def check_destination(bench: Path, out: Path, overwrite: bool) -> None:
    """Refuse a release folder that would destroy the mask set or anything that is not a release."""
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
    webdataset: bool = False,
    per_shard: int = DEFAULT_PER_SHARD,
    compare: Path | None = None,
    compare_hole_value: int = 255,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Prepare the benchmark ``bench`` for release in ``out``; return ``out``.

    The benchmark is verified first (:func:`~pconv.maskgen.release.verify.verify_benchmark`): a release's
    checksums
    must never certify a damaged mask. ``overwrite`` replaces only an earlier release (a folder with
    ``SHA256SUMS``), never the benchmark itself or a folder around it. ``archive`` adds ``masks.zip``
    (a third copy of every mask, so only on request), ``webdataset`` tar shards of ``per_shard`` masks
    (another copy, also on request). ``compare``: another mask folder (``compare_hole_value`` = hole)
    whose shape rows the card and page show beside ours.
    """
    bench, out = Path(bench), Path(out)
    records, build = _verified(bench, out, overwrite=overwrite, progress=progress)
    params = build["params"]
    other = comparison(
        compare,
        hole_value=compare_hole_value,
        border=params["border"],
        edges=params["bin_edges"],
        progress=progress,
    )
    temp = temporary_name(out)
    shutil.rmtree(temp, ignore_errors=True)
    try:
        bar = progress_bar(total=len(records) + 3, desc="publish", enabled=progress, unit="file")
        _copy_benchmark(bench, temp, records, archive=archive, bar=bar)
        shards = write_formats(
            temp,
            _samples(records, params["bin_edges"]),
            BENCH_FEATURES,
            webdataset=webdataset,
            per_shard=per_shard,
        )
        _describe(
            bench,
            temp,
            records,
            build,
            other,
            license_name=license_name,
            archive=archive,
            shards=shards,
            per_shard=per_shard,
        )
        bar.update(1)
        seal(temp, out)
        bar.update(1)
        bar.close()
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return out


def _verified(bench: Path, out: Path, *, overwrite: bool, progress: bool) -> tuple[list[BenchRecord], dict]:
    """The benchmark's records and build.json, once it passes verification and ``out`` may be written."""
    records = read_benchmark(bench)
    if not (bench / BUILD_NAME).is_file():
        raise ValueError(f"{bench}: no {BUILD_NAME}; publish a folder made by `pconv masks benchmark`")
    build = read_json_object(bench / BUILD_NAME, required={"params": dict})
    check_destination(bench, out, overwrite)
    problems = verify_benchmark(bench, progress=progress)
    if problems:
        more = (
            f" (and {len(problems) - 1} more; see `pconv masks verify {bench}`)" if len(problems) > 1 else ""
        )
        raise ValueError(f"{bench} fails verification, not publishing it: {problems[0]}{more}")
    return records, build


def _samples(records: list[BenchRecord], edges: Sequence[float]) -> list[dict[str, Any]]:
    """Every mask's :data:`BENCH_FEATURES`, for ``metadata.jsonl``, the shards and the page."""
    return [
        {
            **{feature.name: getattr(record, feature.name, None) for feature in BENCH_FEATURES},
            "bin_label": bin_label(record.bin, edges),
        }
        for record in records
    ]


def _copy_benchmark(bench: Path, temp: Path, records: list[BenchRecord], *, archive: bool, bar: Any) -> None:
    """The benchmark's own files into ``temp`` (and ``masks.zip`` with ``archive``)."""
    for name in [record.file for record in records]:
        _place(inside(bench, name), temp / name)
        bar.update(1)
    for name in (CSV_NAME, HDF5_NAME, BUILD_NAME):
        _place(bench / name, temp / name)
    if archive:
        _archive(temp, records)
    bar.update(1)


def _describe(
    bench: Path,
    temp: Path,
    records: list[BenchRecord],
    build: dict,
    other: MaskSetStats | None,
    *,
    license_name: str,
    archive: bool,
    shards: int | None,
    per_shard: int,
) -> None:
    """The pictures, the card and the page of the release being written in ``temp``."""
    edges = build["params"]["bin_edges"]
    measures, thumbnails = measure_masks(bench, border=build["params"]["border"], edges=edges)
    stats = mask_set_stats("benchmark", measures, thumbnails, edges=edges)
    by_file = {record.file: record for record in records}
    cells = {key: [record.file for record in group] for key, group in _groups(records).items()}
    figures = write_pictures(
        temp,
        cells,
        edges=edges,
        load=lambda name: load_benchmark_hole(temp, by_file[name]),
        ratios=[record.hole_ratio for record in records],
        splits=[record.split for record in records],
    )
    card = _card(
        records, build, license_name, stats, other, archive=archive, shards=shards, per_shard=per_shard
    )
    write_card_and_page(
        temp,
        card,
        front_matter(
            title=f"Irregular hole mask benchmark ({len(records)} masks)",
            license_name=license_name,
            split=HUB_SPLIT,
            data_files=["masks/*.png", METADATA_NAME],
            features=BENCH_FEATURES,
            count=len(records),
        ),
        strips(cells, _samples(records, edges), edges=edges),
        figures=figures,
        links=[(CSV_NAME, "manifest"), (BUILD_NAME, "build parameters"), (CARD_NAME, "dataset card")],
    )


def write_pictures(
    folder: Path,
    cells: dict[tuple[int, str], list[str]],
    *,
    edges: Sequence[float],
    load: Callable[[str], np.ndarray],
    ratios: list[float],
    splits: list[str],
) -> list[tuple[str, str]]:
    """Contact sheets per bin × split and an overview (the first masks of each, N beside B) under
    ``folder/contact_sheets/``, and the hole-ratio histogram; returns them as ``(file, caption)``.

    ``cells``: the files (relative to ``folder``) of every non-empty (bin, split), bins ascending, N before
    B; ``load(file)`` gives a file's hole map (H, W) bool.
    """
    firsts: dict[tuple[int, str], list[np.ndarray]] = {}
    for (index, split), files in cells.items():
        holes = [load(name) for name in files[: SHEET_SIDE * SHEET_SIDE]]
        title = f"bin {bin_label(index, edges)} {split}: {len(holes)} of {len(files)} (white = hole)"
        sheet = contact_sheet(holes, columns=SHEET_SIDE, title=title)
        atomic_write_bytes(
            folder / SHEET_DIR / f"{bin_folder_name(index, edges)}_{split}.png", encode_png(sheet)
        )
        firsts[index, split] = holes[:SHEET_SIDE]
    rows = []
    for index in sorted({index for index, _ in cells}):
        n_holes, b_holes = firsts.get((index, "N"), []), firsts.get((index, "B"), [])
        title = f"bin {bin_label(index, edges)}: {len(n_holes)} N (left), {len(b_holes)} B (right)"
        rows.append(contact_sheet([*n_holes, *b_holes], columns=2 * SHEET_SIDE, title=title))
    overview = f"{SHEET_DIR}/overview.png"
    atomic_write_bytes(folder / overview, encode_png(side_by_side(rows)))
    atomic_write_bytes(folder / HISTOGRAM_NAME, encode_png(ratio_histogram(ratios, splits)))
    return [
        (HISTOGRAM_NAME, "Masks per 0.01 of hole ratio, N and B stacked."),
        (overview, f"The first masks of each bin: up to {SHEET_SIDE} N, then up to {SHEET_SIDE} B."),
    ]


def write_formats(
    folder: Path,
    samples: list[dict[str, Any]],
    features: Sequence[Feature],
    *,
    webdataset: bool,
    per_shard: int,
) -> int | None:
    """``metadata.jsonl`` for `datasets`, and with ``webdataset`` the tar shards; returns how many shards
    (None without)."""
    atomic_write_text(folder / METADATA_NAME, metadata_jsonl(samples, features))
    if not webdataset:
        return None
    return len(write_shards(folder, samples, per_shard=per_shard))


def strips(
    cells: dict[tuple[int, str], list[str]], samples: list[dict[str, Any]], *, edges: Sequence[float]
) -> list[Strip]:
    """The page's example strips: the first masks of every bin × split, with their ratio as tooltip."""
    ratio = {sample["file"]: sample["hole_ratio"] for sample in samples}
    return [
        Strip(
            title=f"bin {bin_label(index, edges)} {split}",
            count=len(files),
            files=files[:STRIP_LENGTH],
            tooltips=[f"{name}: hole ratio {ratio[name]:.4f}" for name in files[:STRIP_LENGTH]],
        )
        for (index, split), files in cells.items()
    ]


def write_card_and_page(
    folder: Path,
    card: str,
    yaml: str,
    examples: list[Strip],
    *,
    figures: list[tuple[str, str]],
    links: list[tuple[str, str]],
) -> None:
    """The card (``yaml`` front matter, then ``card``) and ``index.html`` beside it."""
    atomic_write_text(folder / CARD_NAME, yaml + card)
    shard_links = [(SHARD_DIR + "/", "WebDataset shards")] if (folder / SHARD_DIR).is_dir() else []
    links = [*links, (METADATA_NAME, "metadata.jsonl"), *shard_links, (SUMS_NAME, "checksums")]
    atomic_write_text(folder / PAGE_NAME, release_page(card, examples, figures=figures, links=links))


def seal(temp: Path, out: Path) -> None:
    """Write ``SHA256SUMS`` over every file of ``temp`` and rename ``temp`` onto ``out``."""
    files = sorted(path.relative_to(temp).as_posix() for path in temp.rglob("*") if path.is_file())
    sums = "".join(f"{sha256_file(temp / name)}  {name}\n" for name in files)
    atomic_write_text(temp / SUMS_NAME, sums)
    if out.exists():
        shutil.rmtree(out)
    os.replace(temp, out)

"""Releasing a mask set brought in with ``pconv masks bin`` (e.g. NVIDIA's released test masks), in the
same formats as a benchmark's release, so anyone can mirror it with checksums.

``pconv masks publish BINNED --out DIST`` on a folder made by ``pconv masks bin`` writes::

    masks/binK_LOW-HIGH/N|B/<path in the source>, masks/outside/<path>   the files, copied unchanged
    bins.csv, bin.json        the binning's index and settings (hole value, border, bin edges)
    metadata.jsonl            one line per mask for Hugging Face `datasets` (pconv.maskgen.release.hub)
    webdataset/               with ``webdataset``: tar shards, PNG + JSON per mask, in bins.csv order
    README.md                 the card: front matter for the Hub, counts, ratios, shapes, convention, licence
    index.html, contact_sheets/, hole_ratio_histogram.png, SHA256SUMS   as for a benchmark

The files keep the source's own convention (``bin.json``'s hole value, stated on the card): a mirror
must give back the very bytes its users checked. Built in a temporary folder and renamed into place.
"""

from __future__ import annotations

import csv
import shutil
import statistics
from pathlib import Path
from typing import Any

from pconv.core.files import inside, read_json_object, temporary_name
from pconv.core.masks import read_mask_png
from pconv.maskgen.measure.folder import BINNING_NAME, INDEX_NAME, measure_masks
from pconv.maskgen.measure.tables import MaskSetStats, mask_set_stats, stats_table
from pconv.maskgen.release.hub import METADATA_NAME, Feature, front_matter, loading_section
from pconv.maskgen.release.publish import (
    CARD_NAME,
    CITATION,
    HUB_SPLIT,
    check_destination,
    comparison,
    comparison_section,
    seal,
    strips,
    write_card_and_page,
    write_formats,
    write_pictures,
)
from pconv.maskgen.sets.bench_format import MASK_DIR, bin_label
from pconv.maskgen.sets.bins import SPLITS
from pconv.maskgen.sets.tar_shards import DEFAULT_PER_SHARD

__all__ = ["BINNED_FEATURES", "is_binned", "publish_binned"]

BINNED_FEATURES = (
    Feature("file", "string", "the mask's path in the release"),
    Feature("original", "string", "its path in the source folder"),
    Feature("bin", "int64", "hole-ratio bin, 0-based in ascending ratio; empty outside every bin"),
    Feature("bin_label", "string", "the bin as the paper writes it, e.g. `(0.01,0.1]`, or `outside`"),
    Feature("split", "string", "`N`: no hole within the border band; `B`: holes inside it"),
    Feature("hole_ratio", "float64", "hole pixels / all pixels"),
    Feature("border_distance", "int64", "smallest distance of a hole pixel to the image edge, px"),
    Feature("height", "int64", "image height, px"),
    Feature("width", "int64", "image width, px"),
)


def is_binned(folder: Path) -> bool:
    """Whether ``folder`` was made by ``pconv masks bin`` (it holds ``bins.csv`` and ``bin.json``)."""
    return (Path(folder) / INDEX_NAME).is_file() and (Path(folder) / BINNING_NAME).is_file()


def _samples(folder: Path, edges: list[float]) -> list[dict[str, Any]]:
    with open(folder / INDEX_NAME, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and "destination" not in rows[0]:
        raise ValueError(
            f"{folder / INDEX_NAME}: no destination column; make the folder with `pconv masks bin`"
        )
    samples = []
    for row in rows:
        inside(folder, row["destination"])  # a crafted index must not copy files from outside the folder
        index = int(row["bin"]) if row["bin"] else None
        samples.append(
            {
                "file": f"{MASK_DIR}/{row['destination']}",
                "original": row["file"],
                "bin": index,
                "bin_label": "outside" if index is None else bin_label(index, edges),
                "split": row["split"],
                "hole_ratio": float(row["hole_ratio"]),
                "border_distance": int(row["border_distance"]),
                "height": int(row["height"]),
                "width": int(row["width"]),
                "destination": row["destination"],
            }
        )
    return samples


def _card(
    samples: list[dict[str, Any]], binning: dict, license_name: str, shapes: list[str], **loading: Any
) -> str:
    hole, border, edges = binning["hole_value"], binning["border"], binning["bin_edges"]
    binned = [sample for sample in samples if sample["bin"] is not None]
    lines = [
        f"# Irregular hole masks: {Path(binning['source']).name}",
        "",
        f"{len(samples)} mask images from the folder `{Path(binning['source']).name}`, sorted by "
        f"`pconv masks bin` (pconv-toolkit {binning['version']}) into the hole-ratio bins of Liu et al. "
        f"(ECCV 2018), each split into N (no hole within {border} px of the border) and B (holes inside "
        f"that band). {len(binned)} lie in the bins, {len(samples) - len(binned)} outside them.",
        "",
        "## Convention",
        "",
        f"The files are copied unchanged from the source, so they keep its convention: **{hole} = hole** "
        f"({'the other value' if hole in (0, 255) else 'else'} = valid; grey levels split at 128). They lie "
        f"in `{MASK_DIR}/binK_LOW-HIGH/N|B/<path in the source>` (bins open below, closed above) and "
        f"`{MASK_DIR}/outside/`; `{INDEX_NAME}` lists each with its measurements, `{BINNING_NAME}` the "
        "settings of the binning.",
        "",
        *loading_section(split=HUB_SPLIT, features=BINNED_FEATURES, **loading),
        *_counts(binned, edges),
        "",
        "## Shapes and diversity",
        "",
        "As `pconv masks stats` prints them (see the pconv-toolkit README for the measures).",
        "",
        *shapes,
        "## Licence",
        "",
        f"{license_name}. The masks are another party's work: mirror them only under the licence their "
        "authors gave.",
        "",
        "## Citation",
        "",
        "```bibtex",
        CITATION,
        "```",
        "",
    ]
    return "\n".join(lines)


def _counts(binned: list[dict[str, Any]], edges: list[float]) -> list[str]:
    """The card's table of masks and hole-ratio statistics per bin and split, empty cells included."""
    lines = [
        "## Per-bin counts and hole-ratio statistics",
        "",
        "| bin | split | masks | min ratio | mean ratio | max ratio | mean border distance (px) |",
        "|---|---|---|---|---|---|---|",
    ]
    for index in range(len(edges) - 1):
        for split in SPLITS:
            group = [sample for sample in binned if sample["bin"] == index and sample["split"] == split]
            if not group:
                lines.append(f"| {bin_label(index, edges)} | {split} | 0 | | | | |")
                continue
            ratios = [sample["hole_ratio"] for sample in group]
            distance = statistics.fmean(sample["border_distance"] for sample in group)
            lines.append(
                f"| {bin_label(index, edges)} | {split} | {len(group)} | {min(ratios):.4f} | "
                f"{statistics.fmean(ratios):.4f} | {max(ratios):.4f} | {distance:.1f} |"
            )
    return lines


def publish_binned(
    binned: Path,
    out: Path,
    *,
    license_name: str = "CC-BY-4.0",
    webdataset: bool = False,
    per_shard: int = DEFAULT_PER_SHARD,
    compare: Path | None = None,
    compare_hole_value: int = 255,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Release the ``pconv masks bin`` folder ``binned`` in ``out`` (see the module docstring); ``compare``
    as for :func:`~pconv.maskgen.release.publish.publish_benchmark`."""
    binned, out = Path(binned), Path(out)
    binning = read_json_object(
        binned / BINNING_NAME, required={"hole_value": int, "border": int, "bin_edges": list, "source": str}
    )
    edges = [float(edge) for edge in binning["bin_edges"]]
    samples = _samples(binned, edges)
    check_destination(binned, out, overwrite)
    other = comparison(
        compare, hole_value=compare_hole_value, border=binning["border"], edges=edges, progress=progress
    )
    temp = temporary_name(out)
    shutil.rmtree(temp, ignore_errors=True)
    try:
        _copy_binned(binned, temp, samples)
        shards = write_formats(temp, samples, BINNED_FEATURES, webdataset=webdataset, per_shard=per_shard)
        _describe(
            temp,
            samples,
            binning,
            other,
            edges=edges,
            license_name=license_name,
            shards=shards,
            per_shard=per_shard,
            progress=progress,
        )
        seal(temp, out)
    finally:
        shutil.rmtree(temp, ignore_errors=True)
    return out


def _copy_binned(binned: Path, temp: Path, samples: list[dict[str, Any]]) -> None:
    """The masks (under ``masks/``, each sample's ``destination`` taken out of it) and the binning's files."""
    for sample in samples:
        target = temp / sample["file"]
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(binned / sample.pop("destination"), target)
    for name in (INDEX_NAME, BINNING_NAME):
        shutil.copyfile(binned / name, temp / name)


def _cells(samples: list[dict[str, Any]]) -> dict[tuple[int, str], list[str]]:
    """The files of every non-empty (bin, split), bins ascending, N before B (masks outside left out)."""
    cells: dict[tuple[int, str], list[str]] = {}
    for sample in sorted(
        (sample for sample in samples if sample["bin"] is not None),
        key=lambda sample: (sample["bin"], sample["split"] == "B"),
    ):
        cells.setdefault((sample["bin"], sample["split"]), []).append(sample["file"])
    return cells


def _describe(
    temp: Path,
    samples: list[dict[str, Any]],
    binning: dict,
    other: MaskSetStats | None,
    *,
    edges: list[float],
    license_name: str,
    shards: int | None,
    per_shard: int,
    progress: bool,
) -> None:
    """The pictures, the card and the page of the release being written in ``temp``."""
    hole_value, name = binning["hole_value"], Path(binning["source"]).name
    measures, thumbnails = measure_masks(
        temp / MASK_DIR, hole_value=hole_value, border=binning["border"], edges=edges, progress=progress
    )
    stats = mask_set_stats(name, measures, thumbnails, edges=edges)
    shapes = ["```text", stats_table(stats, edges=edges), "```", "", *comparison_section(stats, other, edges)]
    cells = _cells(samples)
    figures = write_pictures(
        temp,
        cells,
        edges=edges,
        load=lambda file: read_mask_png(temp / file, hole_value=hole_value),
        ratios=[sample["hole_ratio"] for sample in samples],
        splits=[sample["split"] for sample in samples],
    )
    card = _card(samples, binning, license_name, shapes, shards=shards, per_shard=per_shard)
    yaml = front_matter(
        title=f"Irregular hole masks: {name} ({len(samples)} masks)",
        license_name=license_name,
        split=HUB_SPLIT,
        data_files=[f"{MASK_DIR}/**", METADATA_NAME],
        features=BINNED_FEATURES,
        count=len(samples),
    )
    links = [(INDEX_NAME, "index of the binning"), (BINNING_NAME, "binning settings"), (CARD_NAME, "card")]
    write_card_and_page(temp, card, yaml, strips(cells, samples, edges=edges), figures=figures, links=links)

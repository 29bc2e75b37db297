"""A measured mask set grouped and printed: per bin × split and over ratio 0.1-0.6, the ratios, border
distances, shape medians and diversity (``pconv masks stats``, the dataset card), side by side with another
set and as ratios of a reference's medians (:data:`~pconv.maskgen.measure.shapes.NVIDIA_TEST_MEDIANS`)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pconv.maskgen.measure.folder import MaskMeasure
from pconv.maskgen.measure.shapes import (
    SHAPE_FIELDS,
    SHAPE_RATIO_RANGE,
    SHAPE_TOLERANCES,
    GroupSummary,
    Medians,
    inside_targets,
    median_ratios,
    near_duplicate_flags,
    summarize,
)
from pconv.maskgen.sets.augment import magnification_summary
from pconv.maskgen.sets.bench_format import bin_label
from pconv.maskgen.sets.bins import BIN_EDGES, SPLITS, bin_bounds

__all__ = [
    "MaskSetStats",
    "compare_table",
    "mask_set_stats",
    "medians_by_group",
    "ratio_table",
    "stats_table",
]


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
        for split in SPLITS:
            members = [
                number for number, item in enumerate(measures) if (item.bin, item.split) == (index, split)
            ]
            flags[members] = near_duplicate_flags([thumbnails[number] for number in members])
            group = [measures[number] for number in members]
            cells[index, split] = _summary(group, flags[members], known_raw, bin_bounds(index, edges))
    low, high = SHAPE_RATIO_RANGE
    chosen = [number for number, item in enumerate(measures) if low <= item.hole_ratio <= high]
    headline = _summary([measures[number] for number in chosen], flags[chosen], known_raw, None)
    return MaskSetStats(name, measures, cells, headline)


def _summary(
    group: list[MaskMeasure], flags: np.ndarray, known_raw: bool, bounds: tuple[float, float] | None
) -> GroupSummary | None:
    """The summary of one group (None when it is empty); ``bounds``: its bin's (low, high), for where the
    ratios sit in it, or None for a group that spans bins."""
    if not group:
        return None
    positions = None
    if bounds is not None:
        low, high = bounds
        positions = [(item.hole_ratio - low) / (high - low) for item in group]
    return summarize(
        [item.shape for item in group],
        flags,
        raw_ids=[item.raw_id for item in group] if known_raw else None,
        ratio_positions=positions,
    )


def stats_table(stats: MaskSetStats, *, edges: Sequence[float] = BIN_EDGES) -> str:
    """A plain-text report: counts and ratios per bin and split, then shapes and diversity (see
    :mod:`pconv.maskgen.measure.shapes`), masks outside the bins and sizes."""
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

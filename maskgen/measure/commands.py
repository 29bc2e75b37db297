"""`pconv masks stats | bin`: commands that measure any mask folder, ours or anyone's.

Each command parses its options, calls one library function and lets the root group turn ValueError /
OSError into a one-line ``Error: ...`` (see pconv.core.cli).
"""

from __future__ import annotations

from pathlib import Path

import click

from pconv.core.cli import echo_summary, out_folder_option, show_progress, workers_option
from pconv.core.files import refuse_overlap
from pconv.core.locks import locked_beside
from pconv.maskgen.sets.commands import BORDER

__all__ = ["HOLE_VALUE", "MEASURE_COMMANDS"]

HOLE_VALUE = click.option(
    "--hole-value",
    type=click.Choice(["255", "0"]),
    default="255",
    show_default=True,
    help="Pixel value of holes: 255 (NVIDIA's test masks, ours) or 0 (NVIDIA's training masks, Quick Draw).",
)


@click.command("stats")
@click.argument("folder", type=click.Path(path_type=Path))
@HOLE_VALUE
@BORDER
@click.option(
    "--csv",
    "csv_path",
    type=click.Path(path_type=Path),
    default=None,
    help="Also write every mask's measurements to this CSV file.",
)
@click.option(
    "--compare",
    "other",
    type=click.Path(path_type=Path),
    default=None,
    help="Another mask folder (e.g. NVIDIA's test set) to show side by side, with each group's medians "
    "over its and how many cells lie within the shape targets.",
)
@click.option(
    "--compare-hole-value",
    type=click.Choice(["255", "0"]),
    default=None,
    help="--hole-value of the --compare folder (default: the same as FOLDER's).",
)
@workers_option
def stats_command(
    folder: Path,
    hole_value: str,
    border: int,
    csv_path: Path | None,
    other: Path | None,
    compare_hole_value: str | None,
    workers: int | None,
) -> None:
    """Ratios, border distances, bin counts, shapes and diversity of any mask folder (searched recursively;
    a benchmark's masks/ only)."""
    from pconv.maskgen.measure.folder import measure_masks, write_measures_csv
    from pconv.maskgen.measure.tables import (
        compare_table,
        mask_set_stats,
        medians_by_group,
        ratio_table,
        stats_table,
    )

    if csv_path is not None:
        refuse_overlap(csv_path, {"FOLDER": folder, "--compare": other})
    measures, thumbnails = measure_masks(
        folder, hole_value=int(hole_value), border=border, workers=workers, progress=show_progress()
    )
    if csv_path is not None:
        write_measures_csv(csv_path, measures)
    stats = mask_set_stats(str(folder), measures, thumbnails)
    click.echo(stats_table(stats))
    if other is not None:
        other_measures, other_thumbnails = measure_masks(
            other,
            hole_value=int(compare_hole_value or hole_value),
            border=border,
            workers=workers,
            progress=show_progress(),
        )
        other_stats = mask_set_stats(str(other), other_measures, other_thumbnails)
        click.echo("")
        click.echo(compare_table(stats, other_stats))
        click.echo("")
        click.echo(ratio_table(stats, str(other), medians_by_group(other_stats)))


@click.command("bin")
@click.argument("folder", type=click.Path(path_type=Path))
@out_folder_option("New folder for the sorted copies.")
@HOLE_VALUE
@BORDER
def bin_command(folder: Path, out: Path, hole_value: str, border: int) -> None:
    """Copy any mask folder's masks into OUT/binK_LOW-HIGH/N|B/ (and OUT/outside/), with OUT/bins.csv."""
    from pconv.maskgen.measure.folder import bin_masks

    with locked_beside(out):
        measures = bin_masks(folder, out, hole_value=int(hole_value), border=border, progress=show_progress())
    inside = sum(1 for item in measures if item.bin is not None)
    echo_summary(
        f"{len(measures)} masks sorted into {out}: {inside} in bins, {len(measures) - inside} outside"
    )


MEASURE_COMMANDS = (stats_command, bin_command)

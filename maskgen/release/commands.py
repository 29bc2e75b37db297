"""`pconv masks publish | verify | sheets`: commands that check, draw and publish mask sets.

Each command parses its options, calls one library function and lets the root group turn ValueError /
OSError into a one-line ``Error: ...`` (see pconv.core.cli).
"""

from __future__ import annotations

from pathlib import Path

import click

from pconv.core.cli import echo_summary, out_folder_option, show_progress, workers_option
from pconv.core.files import refuse_overlap
from pconv.core.locks import locked_beside
from pconv.maskgen.measure.commands import HOLE_VALUE
from pconv.maskgen.sets.commands import BORDER, OVERWRITE, SHARD_MASKS, WEBDATASET

__all__ = ["RELEASE_COMMANDS"]


@click.command("publish")
@click.argument("bench", type=click.Path(path_type=Path))
@out_folder_option("Release folder.")
@click.option(
    "--license",
    "license_name",
    default="CC-BY-4.0",
    show_default=True,
    help="Licence written into the dataset card.",
)
@click.option("--archive", is_flag=True, help="Also write masks.zip (the PNGs and manifest in one file).")
@WEBDATASET
@SHARD_MASKS
@click.option(
    "--compare",
    "other",
    type=click.Path(path_type=Path),
    default=None,
    help="Another mask folder (e.g. NVIDIA's test set) whose shape rows the card shows beside ours.",
)
@click.option(
    "--compare-hole-value",
    type=click.Choice(["255", "0"]),
    default="255",
    show_default=True,
    help="Pixel value of holes in the --compare folder.",
)
@OVERWRITE
def publish_command(
    bench: Path,
    out: Path,
    license_name: str,
    archive: bool,
    webdataset: bool,
    shard_masks: int,
    other: Path | None,
    compare_hole_value: str,
    overwrite: bool,
) -> None:
    """Release BENCH (a benchmark or a `pconv masks bin` folder): PNGs (and masks.h5), a dataset card
    that Hugging Face `datasets` loads, index.html, SHA256SUMS, pictures; --archive adds masks.zip,
    --webdataset tar shards."""
    from pconv.maskgen.release.publish import publish_benchmark
    from pconv.maskgen.release.publish_binned import is_binned, publish_binned

    options = {
        "license_name": license_name,
        "webdataset": webdataset,
        "per_shard": shard_masks,
        "compare": other,
        "compare_hole_value": int(compare_hole_value),
        "overwrite": overwrite,
        "progress": show_progress(),
    }
    with locked_beside(out):
        if is_binned(bench):
            if archive:
                raise ValueError("--archive is for benchmarks; a binned set is released as its files")
            publish_binned(bench, out, **options)
        else:
            publish_benchmark(bench, out, archive=archive, **options)
    files = [path for path in Path(out).rglob("*") if path.is_file()]
    masks = sum(1 for _ in (Path(out) / "masks").rglob("*.png"))
    formats = ["PNGs"]
    if not is_binned(bench):
        formats.append("masks.h5")
    if archive:
        formats.append("masks.zip")
    if webdataset:
        formats.append("WebDataset shards")
    size = sum(path.stat().st_size for path in files) / 1e6
    echo_summary(
        f"release of {masks:,} masks ({', '.join(formats)}; README.md dataset card, index.html, SHA256SUMS, "
        f"contact sheets, histogram) in {out}: {len(files):,} files, {size:,.1f} MB,"
    )


@click.command("verify")
@click.argument("folder", type=click.Path(path_type=Path))
def verify_command(folder: Path) -> None:
    """Recompute checksums and every invariant of a benchmark or release; exit 1 listing violations."""
    from pconv.maskgen.release.verify import checks_made, verify_benchmark

    problems = verify_benchmark(folder, progress=show_progress())
    for problem in problems:
        click.echo(problem)
    if problems:
        raise click.ClickException(f"{len(problems)} violation{'s' if len(problems) > 1 else ''} in {folder}")
    for line in checks_made(folder):
        click.echo(f"  ok  {line}")
    echo_summary(f"{folder}: every check passed")


@click.command("sheets")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--compare",
    "other",
    type=click.Path(path_type=Path),
    default=None,
    help="A reference mask folder (e.g. NVIDIA's test set) whose sample is drawn below ours in every cell.",
)
@out_folder_option("New folder for the pictures.")
@click.option("--per-cell", type=int, default=8, show_default=True, help="Masks per set and cell.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the random sample.")
@HOLE_VALUE
@click.option(
    "--compare-hole-value",
    type=click.Choice(["255", "0"]),
    default=None,
    help="--hole-value of the --compare folder (default: the same as FOLDER's).",
)
@BORDER
@workers_option
def sheets_command(
    folder: Path,
    other: Path | None,
    out: Path,
    per_cell: int,
    seed: int,
    hole_value: str,
    compare_hole_value: str | None,
    border: int,
    workers: int | None,
) -> None:
    """Contact sheets per bin × split of FOLDER's masks and --compare's, one row each, into OUT."""
    from pconv.maskgen.release.sheets import compare_sheets, load_set

    refuse_overlap(out, {"FOLDER": folder, "--compare": other})  # before the minutes spent measuring
    folders = [(folder, int(hole_value))]
    if other is not None:
        folders.append((other, int(compare_hole_value or hole_value)))
    sets = [
        load_set(
            path, name=path.name, hole_value=value, border=border, workers=workers, progress=show_progress()
        )
        for path, value in folders
    ]
    with locked_beside(out):
        files = compare_sheets(sets, out, per_cell=per_cell, seed=seed)
    click.echo(f"{len(files) - 1} cells drawn into {out}, with {files[-1].name}")


RELEASE_COMMANDS = (publish_command, verify_command, sheets_command)

"""`pconv masks benchmark | publish | verify | stats | bin | export-train`: the benchmark's commands.

Each command parses its options, calls one library function and lets the root group turn ValueError /
OSError into a one-line ``Error: ...`` (see maskgen.cli_common).
"""

from __future__ import annotations

from pathlib import Path

import click

from maskgen.augment import AugmentConfig
from maskgen.bins import DEFAULT_BORDER
from maskgen.cli_common import seed_option, show_progress, workers_option

__all__ = ["BENCH_COMMANDS"]

HOLE_VALUE = click.option("--hole-value", type=click.Choice(["255", "0"]), default="255", show_default=True,
                          help="Pixel value of holes: 255 (NVIDIA's test masks, ours) or 0 (NVIDIA's "
                               "training masks, Quick Draw).")
BORDER = click.option("--border", type=click.IntRange(min=1), default=DEFAULT_BORDER, show_default=True,
                      help="Width in px of the border band: N masks have no hole in it, B masks do.")
DILATION = click.option("--dilation", type=(click.IntRange(min=0), click.IntRange(min=0)), default=None,
                        metavar="MIN MAX", help="Range of hole dilation radii in px (default 9 49, NVIDIA's; "
                                                "9 99 for the built-in default input).")
OVERWRITE = click.option("--overwrite", is_flag=True, help="Replace what OUT holds instead of resuming.")


def _augment(dilation: tuple[int, int] | None) -> AugmentConfig | None:
    return None if dilation is None else AugmentConfig(dilation=dilation)


@click.command("benchmark")
@click.option("--raw", type=click.Path(path_type=Path), default=None,
              help="Raw mask pool (its test split is used). Without it: generate scenes, extract, split.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Benchmark folder.")
@click.option("--per-bin", type=click.IntRange(min=1), default=1000, show_default=True,
              help="Masks per bin and split: 6 x 2 x per-bin in all.")
@click.option("--size", type=click.IntRange(min=8), default=512, show_default=True, help="Mask side in px.")
@BORDER
@DILATION
@seed_option()
@workers_option
@OVERWRITE
def benchmark_command(raw: Path | None, out: Path, per_bin: int, size: int, border: int,
                      dilation: tuple[int, int] | None, seed: int, workers: int | None,
                      overwrite: bool) -> None:
    """Build the binned test benchmark: masks/00000.png ..., manifest.csv, masks.h5."""
    options = {"per_bin": per_bin, "size": size, "border": border, "seed": seed, "workers": workers,
               "overwrite": overwrite, "progress": show_progress()}
    if raw is None:
        from maskgen.pipeline import default_input_benchmark

        default_input_benchmark(out, augment=_augment(dilation), **options)
    else:
        from maskgen.bench import build_benchmark

        build_benchmark(raw, out, augment=_augment(dilation) or AugmentConfig(), **options)
    click.echo(f"benchmark of {12 * per_bin} masks in {out}")


@click.command("publish")
@click.argument("bench", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Release folder.")
@click.option("--license", "license_name", default="CC-BY-4.0", show_default=True,
              help="Licence written into the dataset card.")
@OVERWRITE
def publish_command(bench: Path, out: Path, license_name: str, overwrite: bool) -> None:
    """Prepare BENCH for release: dataset card, SHA256SUMS, contact sheets, histogram, archive."""
    from maskgen.publish import publish_benchmark

    publish_benchmark(bench, out, license_name=license_name, overwrite=overwrite, progress=show_progress())
    click.echo(f"release in {out}")


@click.command("verify")
@click.argument("folder", type=click.Path(path_type=Path))
def verify_command(folder: Path) -> None:
    """Recompute checksums and every invariant of a benchmark or release; exit 1 listing violations."""
    from maskgen.verify import verify_benchmark

    problems = verify_benchmark(folder, progress=show_progress())
    for problem in problems:
        click.echo(problem)
    if problems:
        raise click.ClickException(f"{len(problems)} violation{'s' if len(problems) > 1 else ''} in {folder}")
    click.echo(f"{folder}: every check passed")


@click.command("stats")
@click.argument("folder", type=click.Path(path_type=Path))
@HOLE_VALUE
@BORDER
@click.option("--csv", "csv_path", type=click.Path(path_type=Path), default=None,
              help="Also write every mask's measurements to this CSV file.")
def stats_command(folder: Path, hole_value: str, border: int, csv_path: Path | None) -> None:
    """Hole ratios, border distances and bin counts of any mask folder (searched recursively)."""
    from maskgen.external import measure_masks, stats_table, write_measures_csv

    measures = measure_masks(folder, hole_value=int(hole_value), border=border, progress=show_progress())
    if csv_path is not None:
        write_measures_csv(csv_path, measures)
    click.echo(stats_table(measures))


@click.command("bin")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True,
              help="New folder for the sorted copies.")
@HOLE_VALUE
@BORDER
def bin_command(folder: Path, out: Path, hole_value: str, border: int) -> None:
    """Copy any mask folder's masks into OUT/binK_LOW-HIGH/N|B/ (and OUT/outside/), with OUT/bins.csv."""
    from maskgen.external import bin_masks

    measures = bin_masks(folder, out, hole_value=int(hole_value), border=border, progress=show_progress())
    inside = sum(1 for item in measures if item.bin is not None)
    click.echo(f"{len(measures)} masks sorted into {out}: {inside} in bins, {len(measures) - inside} outside")


@click.command("export-train")
@click.option("--raw", type=click.Path(path_type=Path), required=True, help="Raw mask pool (train split).")
@click.option("--count", type=click.IntRange(min=1), required=True, help="Number of masks.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--size", type=click.IntRange(min=8), default=512, show_default=True, help="Mask side in px.")
@DILATION
@seed_option()
@workers_option
@OVERWRITE
def export_train_command(raw: Path, count: int, out: Path, size: int, dilation: tuple[int, int] | None,
                         seed: int, workers: int | None, overwrite: bool) -> None:
    """Write a fixed set of augmented training masks (epoch 0 of the TrainingMasks dataset)."""
    from maskgen.training import export_training_masks

    export_training_masks(raw, out, count=count, size=size, seed=seed,
                          augment=_augment(dilation) or AugmentConfig(), workers=workers,
                          overwrite=overwrite, progress=show_progress())
    click.echo(f"{count} training masks in {out}")


BENCH_COMMANDS = (benchmark_command, publish_command, verify_command, stats_command, bin_command,
                  export_train_command)

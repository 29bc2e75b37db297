"""`pconv masks benchmark | export-train`: commands that build mask sets from a raw pool.

Each command parses its options, calls one library function and lets the root group turn ValueError /
OSError into a one-line ``Error: ...`` (see pconv.core.cli).
"""

from __future__ import annotations

from pathlib import Path

import click

from pconv.core.cli import echo_summary, out_folder_option, seed_option, show_progress, workers_option
from pconv.maskgen.sets.augment import KERNELS, AugmentConfig
from pconv.maskgen.sets.bins import (
    DEFAULT_BORDER,
    DEFAULT_PER_BIN,
    DEFAULT_SET_SIZE,
    MAX_PER_BIN,
    MAX_SET_SIZE,
    MIN_SET_SIZE,
)

__all__ = ["BORDER", "OVERWRITE", "SET_COMMANDS", "SHARD_MASKS", "WEBDATASET"]

BORDER = click.option(
    "--border",
    type=click.IntRange(min=1),
    default=DEFAULT_BORDER,
    show_default=True,
    help="Width in px of the border band: N masks have no hole in it, B masks do.",
)
DILATION = click.option(
    "--dilation",
    type=(click.IntRange(min=0), click.IntRange(min=0)),
    default=None,
    metavar="MIN MAX",
    help="Range of hole dilation radii in px (default 4 24: NVIDIA's 9-49 px as square kernel sizes).",
)
KERNEL = click.option(
    "--kernel",
    type=click.Choice(KERNELS),
    default=None,
    help="Dilation kernel: a (2r+1)-px square (blocky edges, like NVIDIA's masks) or a disc of radius r "
    "(default: square).",
)
SOURCE_WIDTH = click.option(
    "--source-width/--magnified-width",
    default=None,
    help="Thin raw masks that must be magnified to fill the crop, so strokes keep their source width "
    "whatever the footage's resolution (default), or keep them as magnified.",
)
MIN_COMPONENT = click.option(
    "--min-component",
    type=click.IntRange(0, 1_000_000),
    default=None,
    help="Drop hole components smaller than this many px of a 512-px mask (scaled with the area; 0 keeps "
    "all; default 600): specks of flow noise would otherwise outnumber the strokes.",
)
SIZE = click.option(
    "--size",
    type=click.IntRange(MIN_SET_SIZE, MAX_SET_SIZE),
    default=DEFAULT_SET_SIZE,
    show_default=True,
    help="Mask side in px.",
)
OVERWRITE = click.option("--overwrite", is_flag=True, help="Replace what OUT holds instead of resuming.")
WEBDATASET = click.option(
    "--webdataset",
    is_flag=True,
    help="Also write WebDataset tar shards (PNG + JSON per mask) to OUT/webdataset/.",
)
SHARD_MASKS = click.option(
    "--shard-masks",
    type=click.IntRange(1),
    default=1000,  # pconv.maskgen.sets.tar_shards.DEFAULT_PER_SHARD, not imported: the CLI starts fast
    show_default=True,
    help="Masks per WebDataset shard (with --webdataset).",
)


def _augment(
    dilation: tuple[int, int] | None,
    kernel: str | None,
    source_width: bool | None,
    min_component: int | None,
) -> AugmentConfig | None:
    """The augmentation asked for, or None when no option was given (each input's own default)."""
    if dilation is None and kernel is None and source_width is None and min_component is None:
        return None
    return AugmentConfig(
        dilation=dilation or AugmentConfig.dilation,
        kernel=kernel or AugmentConfig.kernel,
        source_width=AugmentConfig.source_width if source_width is None else source_width,
        min_component=AugmentConfig.min_component if min_component is None else min_component,
    )


@click.command("benchmark")
@click.option(
    "--raw",
    type=click.Path(path_type=Path),
    default=None,
    help="Raw mask pool (its test split is used). Without it: generate scenes, extract, split.",
)
@out_folder_option("Benchmark folder (re-running on it resumes).")
@click.option(
    "--per-bin",
    type=click.IntRange(1, MAX_PER_BIN),
    default=DEFAULT_PER_BIN,
    show_default=True,
    help="Masks per bin and split: 6 x 2 x per-bin in all.",
)
@SIZE
@BORDER
@DILATION
@KERNEL
@SOURCE_WIDTH
@MIN_COMPONENT
@seed_option()
@workers_option
@OVERWRITE
@click.option(
    "--keep-scenes",
    is_flag=True,
    help="Without --raw: keep the rendered scene frames (about 1 GB for the default input) instead of "
    "deleting them once their masks are extracted; the raw pool stays either way.",
)
def benchmark_command(
    raw: Path | None,
    out: Path,
    per_bin: int,
    size: int,
    border: int,
    dilation: tuple[int, int] | None,
    kernel: str | None,
    source_width: bool | None,
    min_component: int | None,
    seed: int,
    workers: int | None,
    overwrite: bool,
    keep_scenes: bool,
) -> None:
    """Build the binned test benchmark: masks/00000.png ..., manifest.csv, masks.h5.

    Without --raw the built-in default input is generated first, scaled to what --per-bin needs (a few
    scenes for a small benchmark, 120 for the full one); its raw pool stays in OUT/default-input/.
    """
    from pconv.maskgen.sets.bench import BenchRecipe

    count = BenchRecipe(per_bin=per_bin, size=size, border=border, seed=seed).count
    options = {
        "per_bin": per_bin,
        "size": size,
        "border": border,
        "seed": seed,
        "workers": workers,
        "overwrite": overwrite,
        "progress": show_progress(),
    }
    where = ""
    if raw is None:
        from pconv.maskgen.sets.default_input import default_input_benchmark, default_input_folder

        where = f" (raw pool {default_input_folder(out, seed=seed, count=count) / 'raw'})"
        default_input_benchmark(
            out,
            augment=_augment(dilation, kernel, source_width, min_component),
            keep_scenes=keep_scenes,
            **options,
        )
    else:
        from pconv.maskgen.sets.bench import build_benchmark

        augment = _augment(dilation, kernel, source_width, min_component) or AugmentConfig()
        build_benchmark(raw, out, augment=augment, **options)
    echo_summary(f"benchmark of {count:,} masks (masks/, manifest.csv, masks.h5) in {out}{where}")


@click.command("export-train")
@click.option("--raw", type=click.Path(path_type=Path), required=True, help="Raw mask pool (train split).")
@click.option("--count", type=click.IntRange(1, 12 * MAX_PER_BIN), required=True, help="Number of masks.")
@out_folder_option("Training mask set folder (re-running on it resumes).")
@SIZE
@DILATION
@KERNEL
@SOURCE_WIDTH
@MIN_COMPONENT
@seed_option()
@workers_option
@WEBDATASET
@SHARD_MASKS
@OVERWRITE
def export_train_command(
    raw: Path,
    count: int,
    out: Path,
    size: int,
    dilation: tuple[int, int] | None,
    kernel: str | None,
    source_width: bool | None,
    min_component: int | None,
    seed: int,
    workers: int | None,
    webdataset: bool,
    shard_masks: int,
    overwrite: bool,
) -> None:
    """Write a fixed set of augmented training masks (epoch 0 of the TrainingMasks dataset);
    --webdataset also as tar shards for streaming."""
    from pconv.maskgen.sets.tar_shards import manifest_samples, write_shards
    from pconv.maskgen.sets.training import export_training_masks

    export_training_masks(
        raw,
        out,
        count=count,
        size=size,
        seed=seed,
        augment=_augment(dilation, kernel, source_width, min_component) or AugmentConfig(),
        workers=workers,
        overwrite=overwrite,
        progress=show_progress(),
    )
    if webdataset:
        shards = write_shards(out, manifest_samples(out), per_shard=shard_masks)
        click.echo(f"{len(shards)} WebDataset shards in {out / 'webdataset'}")
    echo_summary(f"{count} training masks in {out}")


SET_COMMANDS = (benchmark_command, export_train_command)

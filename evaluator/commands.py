"""`pconv eval`: score methods on the benchmark in the layout of the paper's Table 1; `pconv eval merge`.

The evaluator (and torch with it) is imported inside the commands, so their ``--help`` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from pconv.core.cli import (
    compile_choice,
    compile_option,
    device_option,
    out_folder_option,
    seed_option,
    shard_option,
    show_progress,
)
from pconv.core.sharding import Shard
from pconv.evaluator.groups import DEFAULT_GROUPINGS, GROUPINGS, MIN_GROUP_PAIRS

__all__ = ["eval_command"]


@click.group(
    "eval", invoke_without_command=True, subcommand_metavar="[merge OUT | compare REPORT... | inputs ...]"
)
@click.option(
    "--images",
    metavar="DATASET_SPEC",
    help="Photos to fill, as NAME:ROOT[:SPLIT], e.g. places2:/data/places365:val or folder:photos.",
)
@click.option(
    "--masks",
    type=click.Path(path_type=Path),
    metavar="BENCH",
    help="Benchmark folder from `pconv masks benchmark`.",
)
@click.option(
    "--method",
    "methods",
    multiple=True,
    metavar="M",
    help="telea, ns, patchmatch (needs pconv-toolkit[baselines]), folder:DIR, pconv:CHECKPOINT or "
    "conv:CHECKPOINT; repeat for several.",
)
@out_folder_option(
    "Evaluation folder: pairs, per-pair results, table1.md, results.csv/json, grids.",
    required=False,
    metavar="REPORT",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace an earlier evaluation in --out (after the inputs and methods pass their checks).",
)
@click.option(
    "--skip-bad-images",
    is_flag=True,
    help="Leave out unreadable, grey, CMYK or 16-bit photos (counted in the report) instead of refusing.",
)
@seed_option()
@click.option(
    "--batch-size", type=click.IntRange(min=1), default=8, show_default=True, help="Pairs per batch."
)
@click.option(
    "--inception-weights",
    type=click.Path(path_type=Path),
    default=None,
    help="torch-fidelity's Inception file (weights-inception-2015-12-05-6726825d.pth) for IS, FID, KID and "
    "P/U-IDS (default: torch-fidelity's cache; without one they are left out).",
)
@click.option(
    "--lpips-weights",
    type=click.Path(path_type=Path),
    default=None,
    help="torchvision-format VGG16 (or AlexNet) state dict, LPIPS's backbone (default: torchvision's cache; "
    "without one LPIPS is left out).",
)
@click.option(
    "--lpips-net",
    type=click.Choice(["vgg", "alex"]),
    default="vgg",
    show_default=True,
    help="LPIPS backbone: vgg (what inpainting papers report) or alex.",
)
@click.option(
    "--download-weights",
    is_flag=True,
    help="Download missing Inception and LPIPS backbone weights into the torch hub cache (names the file and "
    "its size first). Off by default: nothing reaches the network unasked.",
)
@click.option(
    "--groups",
    "groupings",
    multiple=True,
    type=click.Choice(list(GROUPINGS)),
    help="Report columns: paper (six bins × N/B), area10 (LaMa's ten hole-area bins), overall; repeat for "
    "several [default: paper, overall].",
)
@click.option(
    "--min-group-pairs",
    type=click.IntRange(min=2),
    default=MIN_GROUP_PAIRS,
    show_default=True,
    help="Fewest pairs of a group for IS, FID, KID and P/U-IDS (smaller groups show a dash).",
)
@click.option(
    "--max-pairs",
    type=click.IntRange(min=1),
    default=None,
    help="Score a seeded subset of N pairs, stratified over bin × N/B (the report says it is a subset).",
)
@click.option(
    "--grid-pairs",
    type=click.IntRange(min=0),
    default=2,
    show_default=True,
    help="Pairs per bin and split shown in the result grids.",
)
@device_option
@compile_option
@shard_option
@click.pass_context
def eval_command(
    ctx: click.Context,
    images: str | None,
    masks: Path | None,
    methods: tuple[str, ...],
    out: Path | None,
    overwrite: bool,
    skip_bad_images: bool,
    seed: int,
    batch_size: int,
    inception_weights: Path | None,
    lpips_weights: Path | None,
    lpips_net: str,
    download_weights: bool,
    groupings: tuple[str, ...],
    min_group_pairs: int,
    max_pairs: int | None,
    grid_pairs: int,
    device: str,
    compile_: bool | None,
    shard: Shard,
) -> None:
    """Score inpainting methods on identical image-mask pairs, per hole-ratio bin and border split.

    \b
    pconv eval --images folder:photos --masks bench --method ns --method pconv:run/checkpoint.pt --out report
    pconv eval ... --shard 2/4      (one of 4 jobs; then: pconv eval merge report)
    torchrun --nproc-per-node 2 $(which pconv) eval ...   (ranks split the pairs; rank 0 writes the report)
    pconv eval inputs --images folder:photos --masks bench --out inputs   (for an external model)
    pconv eval compare report-a report-b [--csv]   (side by side, protocol differences named)
    """
    if ctx.invoked_subcommand is not None:
        return
    missing = [
        flag
        for flag, value in (("--images", images), ("--masks", masks), ("--method", methods), ("--out", out))
        if not value
    ]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)}")
    from pconv.evaluator.evaluate import EvalConfig, evaluate

    config = EvalConfig(
        images=images,
        masks=masks,
        methods=methods,
        out=out,
        seed=seed,
        batch_size=batch_size,
        inception_weights=inception_weights,
        lpips_weights=lpips_weights,
        lpips_net=lpips_net,
        download_weights=download_weights,
        groupings=groupings or DEFAULT_GROUPINGS,
        min_group_pairs=min_group_pairs,
        max_pairs=max_pairs,
        grid_pairs=grid_pairs,
        device=device,
        skip_bad_images=skip_bad_images,
        overwrite=overwrite,
        compile=compile_choice(compile_),
    )
    table = evaluate(config, shard=shard, progress=show_progress())
    if table is not None:
        click.echo(table, nl=False)
    elif shard.count > 1:
        click.echo(f"shard {shard} done; when every shard is, run: pconv eval merge {out}")


@eval_command.command("inputs")
@click.option("--images", metavar="DATASET_SPEC", required=True, help="Photos, as for `pconv eval`.")
@click.option(
    "--masks",
    type=click.Path(path_type=Path),
    metavar="BENCH",
    required=True,
    help="Benchmark folder, as for `pconv eval`.",
)
@out_folder_option("Folder for pairs.json, images/ and masks/.")
@seed_option()
def inputs_command(images: str, masks: Path, out: Path, seed: int) -> None:
    """Write each pair's cropped photo (holes white) and mask, named by pair, for a model run elsewhere;
    score its outputs with --method folder:DIR and the same --images, --masks and --seed."""
    from pconv.evaluator.inputs import export_inputs

    count = export_inputs(images, masks, out, seed=seed, progress=show_progress())
    click.echo(
        f"{count} pairs -> {out}/images and {out}/masks; write outputs as DIR/00000.png ... and score "
        f"them with --method folder:DIR"
    )


@eval_command.command("compare")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one row per metric, group and column).")
def compare_command(reports: tuple[Path, ...], as_csv: bool) -> None:
    """Print REPORTs (evaluation folders or results.json) side by side, naming every protocol difference
    from the first; cells that are not comparable with it are marked ≠."""
    from pconv.evaluator.compare import compare_reports

    comparison = compare_reports(list(reports))
    click.echo(comparison.csv() if as_csv else comparison.markdown(), nl=False)


@eval_command.command("merge")
@click.argument("out", type=click.Path(path_type=Path))
def merge_command(out: Path) -> None:
    """Join the per-pair results of every shard in OUT into the report a single run writes."""
    from pconv.evaluator.evaluate import write_report

    click.echo(write_report(out, progress=show_progress()), nl=False)

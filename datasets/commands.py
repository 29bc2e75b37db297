"""`pconv data`: dataset chores that the other commands rely on (the CelebA-HQ split file)."""

from __future__ import annotations

from pathlib import Path

import click

from pconv.core.cli import echo_summary, seed_option
from pconv.datasets import celeba_hq

__all__ = ["data_group"]


@click.group("data")
def data_group() -> None:
    """Prepare photo datasets: the shareable CelebA-HQ train/test split."""


@data_group.command("celeba-split")
@click.argument("root", type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help=f"Split file to write (default: ROOT/{celeba_hq.SPLIT_NAME}, which train and eval use).",
)
@seed_option(0)
def celeba_split(root: Path, out: Path | None, seed: int) -> None:
    """Draw CelebA-HQ's seeded 27,000 / 3,000 train/test partition of ROOT and write it as JSON.

    With the file in ROOT, `pconv train` and `pconv eval` read the partition from it instead of drawing it,
    so a split shared by others (copied to ROOT/celeba_hq_split.json) is the one used.
    """
    target = out or Path(root) / celeba_hq.SPLIT_NAME
    split = celeba_hq.write_split(root, target, seed=seed)
    echo_summary(
        f"{len(split['train'])} train and {len(split['test'])} test images (seed {seed}) -> {target}"
    )

"""`pconv model import` and `pconv model info`: parse options, call one library function, print.

The library (and torch with it) is imported inside the commands, so their ``--help`` answers at once.
"""

from __future__ import annotations

from pathlib import Path

import click

from .choices import LAYOUT_NAMES

__all__ = ["model_group"]

_ANY = click.Path(path_type=Path)


@click.group("model")
def model_group() -> None:
    """Import publicly released PConv weights and describe checkpoints."""


@model_group.command("import")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(LAYOUT_NAMES),
    required=True,
    help="Whose checkpoint SRC is: OpenMMLab mmediting/mmagic, or naoto0804 (PyTorch PConv).",
)
@click.argument("src", type=_ANY)
@click.option("--out", type=_ANY, required=True, help="The pconv checkpoint to write.")
def import_command(fmt: str, src: Path, out: Path) -> None:
    """Convert a downloaded PConv checkpoint SRC into a pconv checkpoint for inpaint and eval.

    Read with PyTorch's weights-only unpickler; nothing in SRC can run code.
    """
    from .pretrained import import_checkpoint

    result = import_checkpoint(src, out, fmt=fmt)
    for note in result.notes:
        click.echo(note, err=True)
    steps = "unknown" if result.training_steps is None else f"{result.training_steps:,}"
    click.echo(f"wrote {out}: {result.layers}-layer PConv U-Net from {fmt}, {steps} training steps")


@model_group.command("info")
@click.argument("checkpoint", type=_ANY)
def info_command(checkpoint: Path) -> None:
    """Architecture, parameters, input normalization, mask convention and provenance of CHECKPOINT."""
    from .pretrained import describe_checkpoint

    lines = describe_checkpoint(checkpoint)
    width = max(len(field) for field, _ in lines)
    for field, value in lines:
        click.echo(f"{field:<{width}}  {value}")

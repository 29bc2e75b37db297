"""`pconv`: one command for the whole pipeline (masks, training, inference, evaluation).

Each subcommand parses its options, calls one library function and lets the root group turn library
errors into a one-line message (see pconv.core.cli). Commands live beside the code they drive.
"""

from __future__ import annotations

import click
from pconv.core import __version__
from pconv.core.cli import FriendlyGroup
from pconv.datasets.commands import data_group
from pconv.evaluator.commands import eval_command
from pconv.maskgen.raw.commands import RAW_COMMANDS
from pconv.maskgen.release.commands import RELEASE_COMMANDS
from pconv.maskgen.sets.commands import SET_COMMANDS
from pconv.pconv_model.commands import inpaint_command, train_command
from pconv.pconv_model.model_commands import model_group


@click.group(cls=FriendlyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pconv")
@click.option("--quiet", "-q", is_flag=True, help="Hide progress bars.")
def main(quiet: bool) -> None:
    """Irregular-hole inpainting benchmarks: masks from video, partial convolutions, training, scoring."""


@main.group()
def masks() -> None:
    """Make hole masks from video, build and publish the binned benchmark, read external mask sets."""


for command in (*RAW_COMMANDS, *SET_COMMANDS, *RELEASE_COMMANDS):
    masks.add_command(command)

main.add_command(data_group)
main.add_command(eval_command)
main.add_command(train_command)
main.add_command(inpaint_command)
main.add_command(model_group)

if __name__ == "__main__":
    main()

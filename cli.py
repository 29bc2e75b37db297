"""`pconv`: one command for the whole pipeline (masks, training, inference, evaluation).

Each subcommand parses its options, calls one library function and lets the root group turn library
errors into a one-line message (see pconv.core.cli). Commands live beside the code they drive and are
imported only when one of them runs or shows its help, so ``pconv --help`` takes a fraction of a second
instead of the seconds torch alone needs; tests check each listed line against the command's own help.
"""

from __future__ import annotations

import click

from pconv.core import __version__
from pconv.core.cli import FriendlyGroup, LazyGroup

_RAW = "pconv.maskgen.raw.commands"
_SETS = "pconv.maskgen.sets.commands"
_MEASURE = "pconv.maskgen.measure.commands"
_RELEASE = "pconv.maskgen.release.commands"

MASK_COMMANDS = {
    "synth": (
        f"{_RAW}:synth",
        "Render layered scenes with exact ground-truth occlusion maps (frames folders usable as SOURCE).",
    ),
    "extract": (
        f"{_RAW}:extract",
        "Occlusion masks of every frame pair of video files or frame folders into a raw pool.",
    ),
    "validate": (
        f"{_RAW}:validate",
        "Score each flow method's masks against ground truth: precision, recall, F1, IoU, time per pair.",
    ),
    "merge": (
        f"{_RAW}:merge",
        "Join the outputs of `extract --shard K/N` (all N) into the pool a single run writes.",
    ),
    "split": (f"{_RAW}:split", "Assign whole sources of a raw pool to train or test (RAW/split.json)."),
    "accumulate": (
        f"{_RAW}:accumulate",
        "Denser raw masks for sparse footage: unions of the occlusions of several frame pairs of one video.",
    ),
    "benchmark": (
        f"{_SETS}:benchmark_command",
        "Build the binned test benchmark: masks/00000.png ..., manifest.csv, masks.h5.",
    ),
    "export-train": (
        f"{_SETS}:export_train_command",
        "Write a fixed set of augmented training masks (epoch 0 of the TrainingMasks dataset); --webdataset "
        "also as tar shards for streaming.",
    ),
    "publish": (
        f"{_RELEASE}:publish_command",
        "Release BENCH (a benchmark or a `pconv masks bin` folder): PNGs (and masks.h5), a dataset card "
        "that Hugging Face `datasets` loads, index.html, SHA256SUMS, pictures; --archive adds masks.zip, "
        "--webdataset tar shards.",
    ),
    "verify": (
        f"{_RELEASE}:verify_command",
        "Recompute checksums and every invariant of a benchmark or release; exit 1 listing violations.",
    ),
    "stats": (
        f"{_MEASURE}:stats_command",
        "Ratios, border distances, bin counts, shapes and diversity of any mask folder (searched "
        "recursively; a benchmark's masks/ only).",
    ),
    "sheets": (
        f"{_RELEASE}:sheets_command",
        "Contact sheets per bin × split of FOLDER's masks and --compare's, one row each, into OUT.",
    ),
    "bin": (
        f"{_MEASURE}:bin_command",
        "Copy any mask folder's masks into OUT/binK_LOW-HIGH/N|B/ (and OUT/outside/), with OUT/bins.csv.",
    ),
}
"""``pconv masks`` subcommands: name -> ("module:attribute", the line ``pconv masks --help`` lists)."""

TOP_COMMANDS = {
    "data": (
        "pconv.datasets.commands:data_group",
        "Prepare photo datasets: the shareable CelebA-HQ train/test split.",
    ),
    "eval": (
        "pconv.evaluator.commands:eval_command",
        "Score inpainting methods on identical image-mask pairs, per hole-ratio bin and border split.",
    ),
    "train": (
        "pconv.pconv_model.commands:train_command",
        "Train the PConv U-Net (or the Conv baseline); run under torchrun for several GPUs or nodes.",
    ),
    "inpaint": (
        "pconv.pconv_model.commands:inpaint_command",
        "Fill the holes of photos (up to 2048x2048 pixels: PCONV_MAX_INPAINT_PIXELS), keeping valid pixels.",
    ),
    "model": (
        "pconv.pconv_model.model_commands:model_group",
        "Import publicly released PConv weights and describe checkpoints.",
    ),
}
"""``pconv`` subcommands besides ``masks``, as :data:`MASK_COMMANDS`."""


@click.group(cls=FriendlyGroup, lazy=TOP_COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pconv")
@click.option("--quiet", "-q", is_flag=True, help="Hide progress bars.")
def main(quiet: bool) -> None:
    """Irregular-hole inpainting benchmarks: masks from video, partial convolutions, training, scoring."""


@main.group(cls=LazyGroup, lazy=MASK_COMMANDS)
def masks() -> None:
    """Make hole masks from video, build and publish the binned benchmark, read external mask sets."""


if __name__ == "__main__":
    main()

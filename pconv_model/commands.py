"""`pconv train` and `pconv inpaint`: parse options, call one library function, report in one line.

The library (and torch with it) is imported inside the commands, so their ``--help`` answers at once.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import click

from pconv import datasets
from pconv.core.cli import (
    compile_choice,
    compile_option,
    device_option,
    echo_summary,
    out_folder_option,
    seed_option,
    show_progress,
)

from .choices import AMP_MODES, ARCH_NAMES, MAX_LAYERS, MAX_WIDTH, PHASE_LR

__all__ = ["inpaint_command", "train_command"]

_ANY = click.Path(path_type=Path)


def _loader_workers() -> int:
    from pconv.core.workers import default_workers

    processes = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, default_workers() // max(1, processes))


@click.command("train")
@click.option("--dataset", type=click.Choice(datasets.DATASETS), required=True, help="Photo dataset layout.")
@click.option("--data", type=_ANY, required=True, help="Dataset root folder.")
@click.option("--masks", type=_ANY, required=True, help="Raw mask pool (with split.json) for training masks.")
@out_folder_option("Run folder: checkpoint, logs, samples.")
@click.option("--iterations", type=click.IntRange(min=1), required=True, help="Train up to this many steps.")
@click.option(
    "--arch",
    type=click.Choice(ARCH_NAMES),
    default="pconv",
    show_default=True,
    help="pconv: partial convolutions (the paper); conv: the same U-Net with plain convolutions, its "
    "baseline.",
)
@click.option(
    "--phase",
    type=click.Choice(list(PHASE_LR)),
    default="initial",
    show_default=True,
    help="initial: lr 2e-4, BN on; finetune: lr 5e-5 from --init, encoder BN frozen.",
)
@click.option("--init", type=_ANY, default=None, help="Initial-phase checkpoint that finetuning starts from.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint, exactly.")
@click.option("--split", default=None, help="Training split (default: the dataset's training split).")
@click.option("--val-split", default=None, help="Validation split (default: the dataset's test split).")
@click.option(
    "--val-count",
    type=click.IntRange(min=1),
    default=8,
    show_default=True,
    help="Photos in the fixed validation subset.",
)
@click.option("--lr", type=float, default=None, help="Learning rate (default: the phase's).")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=6,
    show_default=True,
    help="Photos per step and process.",
)
@click.option(
    "--checkpoint-every",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Steps between checkpoints (also written at the last step and on Ctrl-C / SIGTERM).",
)
@click.option(
    "--sample-every",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Steps between sample grids in OUT/samples/ (input, output, composite, truth).",
)
@click.option(
    "--validate-every",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Steps between scores (l1, PSNR) of the fixed validation subset in OUT/val.jsonl.",
)
@click.option(
    "--log-every",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="Steps between loss lines in OUT/log.jsonl (step 1 is always logged).",
)
@click.option(
    "--vgg-weights",
    type=_ANY,
    default=None,
    help="torchvision-format VGG16 state dict (default: torchvision's cached ImageNet weights).",
)
@seed_option()
@click.option(
    "--image-size",
    type=click.IntRange(1, 4096),
    default=512,
    show_default=True,
    help="Side of the square training crops in px; a multiple of 2**layers (512 for 8 layers, 128 for 7).",
)
@click.option(
    "--layers", type=click.IntRange(1, MAX_LAYERS), default=8, show_default=True, help="U-Net depth."
)
@click.option(
    "--width",
    type=click.FloatRange(0, MAX_WIDTH, min_open=True),
    default=1.0,
    show_default=True,
    help="Channel multiplier.",
)
@device_option
@click.option(
    "--amp",
    type=click.Choice(AMP_MODES),
    default="auto",
    show_default=True,
    help="Mixed precision: auto is bf16 on a GPU that has it, else fp16 (with a gradient scaler); the "
    "CPU always trains in float32. config.json records what ran.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Data-loading processes per training process; 0 loads in the training process "
    "(default: the cores divided among the processes of this node).",
)
@click.option("--strict-images", is_flag=True, help="Stop at a bad photo instead of skipping and counting.")
@compile_option
def train_command(
    dataset: str,
    data: Path,
    masks: Path,
    out: Path,
    iterations: int,
    arch: str,
    phase: str,
    init: Path | None,
    resume: bool,
    split: str | None,
    val_split: str | None,
    val_count: int,
    lr: float | None,
    batch_size: int,
    checkpoint_every: int,
    sample_every: int,
    validate_every: int,
    log_every: int,
    vgg_weights: Path | None,
    seed: int,
    image_size: int,
    layers: int,
    width: float,
    device: str,
    amp: str,
    workers: int | None,
    strict_images: bool,
    compile_: bool | None,
) -> None:
    """Train the PConv U-Net (or the Conv baseline); run under torchrun for several GPUs or nodes."""
    from pconv.core.distributed import dist_env

    from .train import TrainConfig, train

    config = TrainConfig(
        dataset=dataset,
        data=data,
        masks=masks,
        out=out,
        iterations=iterations,
        arch=arch,
        phase=phase,
        init=init,
        split=split,
        val_split=val_split,
        val_count=val_count,
        lr=lr,
        batch_size=batch_size,
        checkpoint_every=checkpoint_every,
        sample_every=sample_every,
        validate_every=validate_every,
        log_every=log_every,
        vgg_weights=vgg_weights,
        seed=seed,
        image_size=image_size,
        layers=layers,
        width=width,
        device=device,
        amp=amp,
        workers=_loader_workers() if workers is None else workers,
        strict_images=strict_images,
        compile=compile_choice(compile_),
    )
    result = train(config, resume=resume, progress=show_progress())
    if dist_env().is_main:
        state = "interrupted; continue with --resume" if result.interrupted else "done"
        echo_summary(f"step {result.step} of {config.iterations} ({state}); checkpoint {result.checkpoint}")
    if result.interrupted:  # a scheduler must not take a stopped run for a finished one: 128 + signal
        click.get_current_context().exit(128 + (result.signal or signal.SIGTERM))


@click.command("inpaint")
@click.option("--checkpoint", type=_ANY, required=True, help="Checkpoint written by `pconv train`.")
@click.option("--image", type=_ANY, required=True, help="A photo, or a folder of photos.")
@click.option(
    "--mask",
    type=_ANY,
    required=True,
    help="A mask, or a folder of masks named like the photos (a.jpg ↔ a.png).",
)
@click.option("--out", type=_ANY, required=True, help="Output PNG (one photo) or folder (for a folder).")
@click.option(
    "--hole-value",
    type=click.Choice(["255", "0"]),
    default="255",
    show_default=True,
    help="Mask value meaning hole: 255 (white = hole) or 0 (black = hole).",
)
@device_option
@compile_option
def inpaint_command(
    checkpoint: Path, image: Path, mask: Path, out: Path, hole_value: str, device: str, compile_: bool | None
) -> None:
    """Fill the holes of photos (up to 2048x2048 pixels: PCONV_MAX_INPAINT_PIXELS), keeping valid pixels.

    A photo whose sides are not multiples of 2**layers is reflect-padded up to the next multiple, filled,
    and cropped back, so the output has the photo's exact size (no resizing).
    """
    from pconv.core.compiling import resolve_compile
    from pconv.core.distributed import dist_env, pick_device

    from .inpaint import Inpainter, inpaint_files

    chosen = pick_device(device, dist_env())
    compiled = resolve_compile(compile_choice(compile_), chosen)
    inpainter = Inpainter.from_checkpoint(checkpoint, device=chosen, compile=compiled)
    written = inpaint_files(
        inpainter, image=image, mask=mask, out=out, hole_value=int(hole_value), progress=show_progress()
    )
    echo_summary(f"wrote {len(written)} image(s) to {out}")

"""`pconv masks synth|extract|validate|merge|split|accumulate`: the raw mask pool from the command line.

Each command parses its options, calls one library function and prints a one-line summary; library
errors become a one-line ``Error: ...`` through the root group.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from pconv.core.cli import (
    F,
    echo_summary,
    out_folder_option,
    seed_option,
    shard_option,
    show_progress,
    workers_option,
)
from pconv.core.locks import locked_folder
from pconv.core.progress import progress_message
from pconv.core.sharding import Shard
from pconv.maskgen.raw.accumulate import AccumulateConfig, accumulate_pool
from pconv.maskgen.raw.extract import ExtractConfig, extract_pool
from pconv.maskgen.raw.flow import FLOW_METHODS
from pconv.maskgen.raw.merge import merge_pools
from pconv.maskgen.raw.occlusion import OcclusionConfig
from pconv.maskgen.raw.split import split_pool
from pconv.maskgen.raw.synth import SCENE_FILE, render_scenes
from pconv.maskgen.raw.validate import format_scores, validate_methods

__all__ = ["RAW_COMMANDS", "accumulate", "extract", "merge", "split", "synth", "validate"]


MAX_SCENE_SIDE = 4096
"""Largest side of a generated scene: each frame and its layers are held in memory while rendering."""


class SizeType(click.ParamType):
    """``WxH`` parsed into ``(width, height)``, each side between 16 and :data:`MAX_SCENE_SIDE`."""

    name = "WxH"

    def convert(
        self, value: object, param: click.Parameter | None, ctx: click.Context | None
    ) -> tuple[int, int]:
        if isinstance(value, tuple):
            return value
        match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(value))
        if not match:
            self.fail(f"size must look like WxH (e.g. 768x576), got {value!r}", param, ctx)
        width, height = int(match.group(1)), int(match.group(2))
        if not (16 <= width <= MAX_SCENE_SIDE and 16 <= height <= MAX_SCENE_SIDE):
            self.fail(f"each side must be between 16 and {MAX_SCENE_SIDE} px, got {value}", param, ctx)
        return width, height


def _scene_options(func: F) -> F:
    """--scenes/--frames/--size/--seed, shared by synth and validate."""
    for option in reversed(
        [
            click.option(
                "--scenes", type=click.IntRange(min=1), default=8, show_default=True, help="Scenes."
            ),
            click.option(
                "--frames",
                type=click.IntRange(min=2),
                default=40,
                show_default=True,
                help="Frames per scene (pairs = frames - 1).",
            ),
            click.option(
                "--size", type=SizeType(), default="768x576", show_default=True, help="Frame size WxH."
            ),
            seed_option(0),
        ]
    ):
        func = option(func)
    return func


CHECK_HELP = {
    "flow_scale": "Compute flow at this fraction of the frame size.",
    "alpha1": "Consistency check: tolerance relative to the flow's size (Sundaram: 0.01).",
    "alpha2": "Consistency check: absolute tolerance in px² (Sundaram: 0.5; the default is the measured "
    "best).",
    "motion_boundaries": "Also mark motion boundaries as holes (Sundaram does).",
    "texture_threshold": "Low-texture test: a check failure is a hole only with a structure-tensor min "
    "eigenvalue of at least this (grey levels²) within --texture-radius; 0 turns it off.",
    "texture_sigma": "Gaussian sigma (px) of the structure tensor.",
    "texture_radius": "Texture this near (px) keeps a failing pixel a hole (occlusions next to objects).",
    "soft_sigma": "Gaussian sigma (px) of the soft hole map; 0 turns it off.",
    "soft_threshold": "Where the soft map becomes a hole (NVIDIA binarized its own soft masks at 0.6).",
    "close_radius": "Morphological closing radius in px; 0 turns it off.",
    "open_radius": "Morphological opening radius in px; 0 turns it off.",
    "min_area": "Remove hole components smaller than this many pixels.",
}
"""The OcclusionConfig fields that extract and validate take as options, with their help; the option's
name, type and default come from the field, its range is checked by OcclusionConfig itself."""


def _config_option(name: str, default: bool | int | float, help_text: str) -> Callable[[F], F]:
    """``--NAME`` (``--NAME/--no-NAME`` for a flag) typed and defaulted like the config field ``name``."""
    flag = name.replace("_", "-")
    if isinstance(default, bool):
        return click.option(f"--{flag}/--no-{flag}", name, default=default, show_default=True, help=help_text)
    return click.option(
        f"--{flag}", name, type=type(default), default=default, show_default=True, help=help_text
    )


def _check_options(func: F) -> F:
    """Flow scale, the forward-backward check and the clean-up (:data:`CHECK_HELP`), shared by extract and
    validate; the command receives them as one ``check: OcclusionConfig``, which refuses values out of
    range in one line."""
    default = OcclusionConfig()

    @functools.wraps(func)
    def command(*args: Any, **options: Any) -> Any:
        check = replace(default, **{name: options.pop(name) for name in CHECK_HELP})
        return func(*args, check=check, **options)

    for name in reversed(CHECK_HELP):
        command = _config_option(name, getattr(default, name), CHECK_HELP[name])(command)
    return command  # type: ignore[return-value]


@click.command()
@out_folder_option("Folder for the scenes (resumes if it holds some).")
@_scene_options
@workers_option
def synth(out: Path, scenes: int, frames: int, size: tuple[int, int], seed: int, workers: int | None) -> None:
    """Render layered scenes with exact ground-truth occlusion maps (frames folders usable as SOURCE)."""
    with locked_folder(out):
        folders = render_scenes(
            out, scenes=scenes, frames=frames, size=size, seed=seed, progress=show_progress(), workers=workers
        )
    echo_summary(f"{len(folders)} scenes of {frames} frames at {size[0]}x{size[1]} in {out}")


@click.command()
@click.argument("sources", nargs=-1, required=True)
@out_folder_option("Raw pool folder (re-running on it resumes).")
@click.option(
    "--method",
    type=click.Choice(list(FLOW_METHODS)),
    default=OcclusionConfig.method,
    show_default=True,
    help="Optical flow method.",
)
@_check_options
@click.option(
    "--step", type=click.IntRange(min=1), default=1, show_default=True, help="Pair frame t with t+STEP."
)
@click.option(
    "--max-pairs", type=click.IntRange(min=1), default=None, help="At most this many pairs per source."
)
@click.option(
    "--max-side",
    type=click.IntRange(min=16),
    default=None,
    help="Shrink frames whose longer side exceeds this (masks are made at that size).",
)
@click.option(
    "--min-hole-ratio",
    type=click.FloatRange(0, 1),
    default=OcclusionConfig.min_hole_ratio,
    show_default=True,
    help="Pairs with fewer holes are static: no mask.",
)
@click.option(
    "--max-hole-ratio",
    type=click.FloatRange(0, 1),
    default=OcclusionConfig.max_hole_ratio,
    show_default=True,
    help="Pairs with more holes are scene cuts: no mask.",
)
@click.option("--skip-bad", is_flag=True, help="Report sources that cannot be read and go on with the rest.")
@workers_option
@shard_option
def extract(
    sources: tuple[str, ...],
    out: Path,
    method: str,
    check: OcclusionConfig,
    step: int,
    max_pairs: int | None,
    max_side: int | None,
    min_hole_ratio: float,
    max_hole_ratio: float,
    skip_bad: bool,
    workers: int | None,
    shard: Shard,
) -> None:
    """Occlusion masks of every frame pair of video files or frame folders into a raw pool."""
    occlusion = replace(check, method=method, min_hole_ratio=min_hole_ratio, max_hole_ratio=max_hole_ratio)
    config = ExtractConfig(occlusion=occlusion, step=step, max_pairs=max_pairs, max_side=max_side)
    report = extract_pool(
        list(sources),
        out,
        config=config,
        workers=workers,
        shard=shard,
        skip_bad=skip_bad,
        progress=show_progress(),
        warn=progress_message,
    )
    bad_pairs = f" ({report.skipped_bad} pairs)" if report.skipped_bad else ""
    echo_summary(
        f"{report.pairs} pairs: {report.masks_written} masks written, {report.skipped_static} static, "
        f"{report.skipped_cut} scene cuts, {report.resumed} done before; "
        f"{len(report.bad_sources)} bad sources{bad_pairs} -> {out}"
    )


@click.command()
@click.argument("scenes_dir", required=False, type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--methods",
    default=",".join(FLOW_METHODS),
    show_default=True,
    help="Comma-separated flow methods to score.",
)
@click.option(
    "--max-pairs", type=click.IntRange(min=1), default=None, help="At most this many pairs per scene."
)
@_check_options
@_scene_options
def validate(
    scenes_dir: Path | None,
    methods: str,
    max_pairs: int | None,
    check: OcclusionConfig,
    scenes: int,
    frames: int,
    size: tuple[int, int],
    seed: int,
) -> None:
    """Score each flow method's masks against ground truth: precision, recall, F1, IoU, time per pair.

    SCENES_DIR is a folder made by `pconv masks synth`; without it, scenes are rendered into a
    temporary folder from --scenes/--frames/--size/--seed.
    """
    names = [name.strip() for name in methods.split(",") if name.strip()]
    unknown = [name for name in names if name not in FLOW_METHODS]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown method {', '.join(unknown) or '(none)'}; choose from {', '.join(FLOW_METHODS)}",
            param_hint="--methods",
        )
    with tempfile.TemporaryDirectory(prefix="pconv-scenes-") as temp:
        if scenes_dir is None:
            folders = render_scenes(
                Path(temp), scenes=scenes, frames=frames, size=size, seed=seed, progress=show_progress()
            )
        else:
            folders = sorted(info.parent / "frames" for info in scenes_dir.glob(f"scene_*/{SCENE_FILE}"))
            if not folders:
                raise FileNotFoundError(
                    f"{scenes_dir}: no scene_*/{SCENE_FILE}; make scenes with `pconv masks synth`"
                )
        scores = validate_methods(
            folders, methods=names, config=check, max_pairs=max_pairs, progress=show_progress()
        )
    click.echo(format_scores(scores))


@click.command()
@click.argument(
    "shards", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False, path_type=Path)
)
@out_folder_option("Folder for the merged pool.")
def merge(shards: tuple[Path, ...], out: Path) -> None:
    """Join the outputs of `extract --shard K/N` (all N) into the pool a single run writes."""
    count = merge_pools(list(shards), out)
    echo_summary(f"merged {len(shards)} shards: {count} masks -> {out}")


@click.command()
@click.argument("raw", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--test-fraction",
    type=float,
    default=0.3,
    show_default=True,
    help="Share of sources (not masks) that go to test.",
)
@seed_option(0)
def split(raw: Path, test_fraction: float, seed: int) -> None:
    """Assign whole sources of a raw pool to train or test (RAW/split.json)."""
    sides = split_pool(raw, test_fraction=test_fraction, seed=seed)
    test = sum(1 for side in sides.values() if side == "test")
    echo_summary(f"{len(sides) - test} train and {test} test sources -> {raw / 'split.json'}")


@click.command()
@click.argument("raw", type=click.Path(file_okay=False, path_type=Path))
@out_folder_option("Folder for the accumulated pool (re-running on it resumes).")
@click.option(
    "--density",
    type=(click.FloatRange(0, 1, min_open=True), click.FloatRange(0, 1, min_open=True)),
    default=AccumulateConfig.density,
    show_default=True,
    metavar="LOW HIGH",
    help="Each union grows until its hole ratio reaches a target drawn uniformly from this range.",
)
@click.option(
    "--gap",
    type=click.IntRange(min=1),
    default=AccumulateConfig.gap,
    show_default=True,
    help="At least this many frames between the pairs a union joins (close pairs only widen the same "
    "strokes).",
)
@click.option(
    "--max-members",
    type=click.IntRange(min=1),
    default=AccumulateConfig.max_members,
    show_default=True,
    help="A union needing more pairs than this gives no mask.",
)
@seed_option(0)
@workers_option
def accumulate(
    raw: Path,
    out: Path,
    density: tuple[float, float],
    gap: int,
    max_members: int,
    seed: int,
    workers: int | None,
) -> None:
    """Denser raw masks for sparse footage: unions of the occlusions of several frame pairs of one video."""
    if density[0] > density[1]:
        raise click.BadParameter(
            f"LOW must not exceed HIGH, got {density[0]} {density[1]}", param_hint="--density"
        )
    config = AccumulateConfig(density=density, gap=gap, max_members=max_members, seed=seed)
    report = accumulate_pool(raw, out, config, workers=workers, progress=show_progress())
    echo_summary(
        f"{report.starts} raw masks: {report.masks_written} unions written, {report.skipped_short} "
        f"too short, {report.resumed} done before -> {out}"
    )


RAW_COMMANDS = (synth, extract, validate, merge, split, accumulate)
"""The commands of this module, in help order (``cli.py`` lists them by name and imports this module
only when one of them runs or shows its help)."""

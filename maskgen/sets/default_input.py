"""The benchmark from the built-in default input: generated scenes -> extract -> split -> benchmark.

What ``pconv masks benchmark --out BENCH`` runs when no ``--raw`` pool is given. Intermediate folders
live inside ``BENCH/default-input/seed-S/`` (``scenes/``, ``raw/``); every stage resumes, so an
interrupted run picks up where it stopped, and a different seed gets its own folders.

Default input settings, chosen by measurement (see the README): the generated scenes' occlusions sit
around a few moving objects, so pairs three frames apart (``DEFAULT_STEP``) give masks with enough
hole area, and the dilation range is widened to 9..99 px (``DEFAULT_INPUT_AUGMENT``): with NVIDIA's
9..49 px no crop of these masks reaches the (0.4,0.5] and (0.5,0.6] N bins, whose holes must cover
most of the frame inside the 50-px hole-free border.
"""

from __future__ import annotations

from pathlib import Path

from pconv.maskgen.raw.extract import ExtractConfig, extract_pool
from pconv.maskgen.raw.split import split_pool
from pconv.maskgen.raw.synth import render_scenes
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import BenchRecipe, build_benchmark
from pconv.maskgen.sets.bins import DEFAULT_BORDER
from pconv.maskgen.sets.maskset import check_destination

__all__ = [
    "DEFAULT_FRAMES",
    "DEFAULT_INPUT_AUGMENT",
    "DEFAULT_SCENES",
    "DEFAULT_SCENE_SIZE",
    "DEFAULT_STEP",
    "INPUT_DIR",
    "default_input_benchmark",
]

DEFAULT_SCENES = 12
DEFAULT_FRAMES = 10
DEFAULT_SCENE_SIZE = (768, 576)
DEFAULT_STEP = 3
DEFAULT_INPUT_AUGMENT = AugmentConfig(dilation=(9, 99))
INPUT_DIR = "default-input"


def default_input_benchmark(
    out: Path,
    *,
    per_bin: int = 1000,
    size: int = 512,
    border: int = DEFAULT_BORDER,
    seed: int = 0,
    augment: AugmentConfig | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
) -> Path:
    """Render scenes, extract their raw pool, split it and build the benchmark in ``out``; return ``out``.

    ``augment`` None uses :data:`DEFAULT_INPUT_AUGMENT`. ``overwrite`` applies to the benchmark only;
    the default input is deterministic and reused.
    """
    augment = augment or DEFAULT_INPUT_AUGMENT
    recipe = BenchRecipe(per_bin=per_bin, size=size, border=border, seed=seed, augment=augment)
    check_destination(Path(out), recipe, overwrite=overwrite)  # bad options fail before minutes of work
    work = Path(out) / INPUT_DIR / f"seed-{seed}"
    folders = render_scenes(
        work / "scenes",
        scenes=DEFAULT_SCENES,
        frames=DEFAULT_FRAMES,
        size=DEFAULT_SCENE_SIZE,
        seed=seed,
        progress=progress,
    )
    raw = work / "raw"
    extract_pool(folders, raw, config=ExtractConfig(step=DEFAULT_STEP), workers=workers, progress=progress)
    split_pool(raw, seed=seed)
    return build_benchmark(
        raw,
        out,
        per_bin=per_bin,
        size=size,
        border=border,
        seed=seed,
        augment=augment,
        workers=workers,
        overwrite=overwrite,
        progress=progress,
    )

"""The benchmark from the built-in default input: generated scenes -> extract -> split -> benchmark.

What ``pconv masks benchmark --out BENCH`` runs when no ``--raw`` pool is given. Intermediate folders
live inside ``BENCH/default-input/seed-S/`` (``scenes/``, ``raw/``); every stage resumes, so an
interrupted run picks up where it stopped, and a different seed gets its own folders.

Default input settings, chosen by measurement (see the README): many short scenes (each pair of a scene
is a different moment, and a thousand test videos give a thousand distinct test raw masks) at 640x480,
dense with thin moving parts (25 to 60 layers), so that the benchmark reaches every bin with the same
augmentation as any user pool; time runs 1.25 times faster for wide enough occlusion strips (pace 2 made
them too thick, 1 too sparse for the top bin, by the shape measures; 15 to 45 layers at pace 1.5 gave a
median thickness of 15.6 px against NVIDIA's 11.0, 25 to 60 at 1.25 gives 13.2); the flow
runs at half resolution and the check at full resolution (about half the cost, same strokes); 70 % of
the scenes go to the test split, which is all the benchmark reads.
"""

from __future__ import annotations

from pathlib import Path

from pconv.maskgen.raw.extract import ExtractConfig, extract_pool
from pconv.maskgen.raw.occlusion import OcclusionConfig
from pconv.maskgen.raw.split import split_pool
from pconv.maskgen.raw.synth import render_scenes
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import BenchRecipe, build_benchmark
from pconv.maskgen.sets.bins import DEFAULT_BORDER
from pconv.maskgen.sets.maskset import check_destination

__all__ = [
    "DEFAULT_FLOW_SCALE",
    "DEFAULT_FRAMES",
    "DEFAULT_LAYERS",
    "DEFAULT_PACE",
    "DEFAULT_SCENES",
    "DEFAULT_SCENE_SIZE",
    "DEFAULT_TEST_FRACTION",
    "INPUT_DIR",
    "default_input_benchmark",
    "default_input_pool",
]

DEFAULT_SCENES = 120
DEFAULT_FRAMES = 19
DEFAULT_SCENE_SIZE = (640, 480)
DEFAULT_PACE = 1.25
DEFAULT_LAYERS = (25, 60)
DEFAULT_FLOW_SCALE = 0.5
DEFAULT_TEST_FRACTION = 0.8
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

    ``augment`` None uses the same default as any pool. ``overwrite`` applies to the benchmark only; the
    default input is deterministic and reused.
    """
    augment = augment or AugmentConfig()
    recipe = BenchRecipe(per_bin=per_bin, size=size, border=border, seed=seed, augment=augment)
    check_destination(Path(out), recipe, overwrite=overwrite)  # bad options fail before minutes of work
    raw = default_input_pool(
        Path(out) / INPUT_DIR / f"seed-{seed}", seed=seed, workers=workers, progress=progress
    )
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


def default_input_pool(
    work: Path, *, seed: int = 0, workers: int | None = None, progress: bool = False
) -> Path:
    """Render the default scenes into ``work/scenes``, extract and split their pool in ``work/raw``; return
    the pool. Every stage resumes, so a second call finds the work done."""
    folders = render_scenes(
        work / "scenes",
        scenes=DEFAULT_SCENES,
        frames=DEFAULT_FRAMES,
        size=DEFAULT_SCENE_SIZE,
        seed=seed,
        pace=DEFAULT_PACE,
        layers=DEFAULT_LAYERS,
        truth=False,
        workers=workers,
        progress=progress,
    )
    raw = work / "raw"
    config = ExtractConfig(occlusion=OcclusionConfig(flow_scale=DEFAULT_FLOW_SCALE))
    extract_pool(folders, raw, config=config, workers=workers, progress=progress)
    split_pool(raw, test_fraction=DEFAULT_TEST_FRACTION, seed=seed)
    return raw

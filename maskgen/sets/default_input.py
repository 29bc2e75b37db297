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
runs at half resolution and the check at full resolution (about half the cost, same strokes); 80 % of
the scenes go to the test split, which is all the benchmark reads.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from dataclasses import asdict
from pathlib import Path, PurePosixPath

from pconv.core import __version__
from pconv.core.files import read_json_object, relative_path
from pconv.core.locks import locked_folder
from pconv.core.progress import progress_message
from pconv.core.sharding import Shard
from pconv.maskgen.raw.extract import ExtractConfig, extract_pool, read_run
from pconv.maskgen.raw.occlusion import OcclusionConfig
from pconv.maskgen.raw.pool import SPLIT_NAME, finished_ids
from pconv.maskgen.raw.split import split_pool
from pconv.maskgen.raw.synth import render_scenes
from pconv.maskgen.sets.augment import AugmentConfig
from pconv.maskgen.sets.bench import BenchRecipe, build_benchmark
from pconv.maskgen.sets.bins import DEFAULT_BORDER, DEFAULT_PER_BIN, DEFAULT_SET_SIZE
from pconv.maskgen.sets.maskset import check_destination, finished_set

__all__ = [
    "DEFAULT_FLOW_SCALE",
    "DEFAULT_FRAMES",
    "DEFAULT_LAYERS",
    "DEFAULT_PACE",
    "DEFAULT_SCENES",
    "DEFAULT_SCENE_SIZE",
    "DEFAULT_TEST_FRACTION",
    "INPUT_DIR",
    "MIN_SCENES",
    "default_input_benchmark",
    "default_input_folder",
    "default_input_pool",
    "rendered_scenes",
    "scenes_for",
]

DEFAULT_SCENES = 120
DEFAULT_FRAMES = 19
DEFAULT_SCENE_SIZE = (640, 480)
DEFAULT_PACE = 1.25
DEFAULT_LAYERS = (25, 60)
DEFAULT_FLOW_SCALE = 0.5
DEFAULT_TEST_FRACTION = 0.8
INPUT_DIR = "default-input"
MIN_SCENES = 12
"""Fewest scenes a scaled-down default input renders: 10 test scenes (about 180 test raw masks) still
reach every bin, the densest N bin included, with the same augmentation."""
TEST_MASKS_PER_SCENE = 13.5
"""Test raw masks a scene is counted on when scaling: 18 pairs x 0.75, below the 0.8 test share, since
the split rounds to whole scenes (a scaled input keeps at least 12 test raw masks to spare; the default
input yields 18.0 per test scene, no pair skipped as static)."""
SECONDS_PER_SCENE = 1.51
"""Render and extract time of one default scene on two idle cores (README, Speed)."""
SECONDS_PER_MASK = 0.0039
"""Benchmark build time per mask on two idle cores (README, Speed)."""
KEPT_BYTES_PER_SCENE = 0.135e6
"""Disk a scene leaves once its frames are deleted: its raw masks and their records (16 MB for 120)."""
BYTES_PER_MASK = 10.7e3
"""Disk per benchmark mask: its PNG, its chunk of masks.h5, its manifest row (128 MB for 12,000)."""


def scenes_for(count: int) -> int:
    """Scenes of the default input that a set of ``count`` masks needs: enough that its test split holds
    at least ``count`` distinct raw masks (so every mask can start from its own, up to the default
    input's 1,728), at least :data:`MIN_SCENES`, at most :data:`DEFAULT_SCENES` (the full default,
    whose bytes do not depend on this). Scene ``i`` is the same in every size: a smaller input is the
    first scenes of the default one, with the same settings and so the same shape statistics."""
    return min(DEFAULT_SCENES, max(MIN_SCENES, math.ceil(count / TEST_MASKS_PER_SCENE)))


def default_input_folder(out: Path, *, seed: int = 0, count: int = 12_000) -> Path:
    """Where the default input of a ``count``-mask set lives inside ``out``: ``default-input/seed-S`` for
    the full default, ``default-input/seed-S-scenes-N`` for one scaled down to N scenes (another pool,
    so a later full build does not find it in its way)."""
    scenes = scenes_for(count)
    name = f"seed-{seed}" if scenes == DEFAULT_SCENES else f"seed-{seed}-scenes-{scenes}"
    return Path(out) / INPUT_DIR / name


def rendered_scenes(source: str) -> int | None:
    """How many scenes were rendered for the default input that ``source`` (a manifest's source, relative
    to its set folder) comes from, read from the folder name :func:`default_input_folder` gave it; None for
    a source outside a default input."""
    parts = PurePosixPath(source).parts
    inside_input = len(parts) > 2 and parts[0] == INPUT_DIR
    match = re.fullmatch(r"seed-\d+(?:-scenes-(\d+))?", parts[1]) if inside_input else None
    return None if match is None else int(match.group(1) or DEFAULT_SCENES)


def default_input_benchmark(
    out: Path,
    *,
    per_bin: int = DEFAULT_PER_BIN,
    size: int = DEFAULT_SET_SIZE,
    border: int = DEFAULT_BORDER,
    seed: int = 0,
    augment: AugmentConfig | None = None,
    workers: int | None = None,
    overwrite: bool = False,
    keep_scenes: bool = False,
    progress: bool = False,
) -> Path:
    """Render scenes, extract their raw pool, split it and build the benchmark in ``out``; return ``out``.

    The input is scaled to the request (:func:`scenes_for`). ``augment`` None uses the same default as
    any pool. ``overwrite`` applies to the benchmark only; the default input is deterministic and reused.
    Rendered frames are deleted once their pool is split unless ``keep_scenes``. With ``progress`` the
    stages are announced up front and one line heads each.
    """
    augment = augment or AugmentConfig()
    recipe = BenchRecipe(per_bin=per_bin, size=size, border=border, seed=seed, augment=augment)
    check_destination(Path(out), recipe, overwrite=overwrite)  # bad options fail before minutes of work
    asked = {
        "per_bin": per_bin,
        "size": size,
        "border": border,
        "seed": seed,
        "augment": augment,
        "workers": workers,
        "overwrite": overwrite,
        "progress": progress,
    }
    work = default_input_folder(out, seed=seed, count=recipe.count)
    scenes = scenes_for(recipe.count)
    raw = work / "raw"
    full = default_input_folder(out, seed=seed)  # a benchmark built before scaling came used this one
    for folder, count in dict.fromkeys([(work, scenes), (full, DEFAULT_SCENES)]):
        done = not overwrite and _pool_finished(folder, count, seed)
        if done and finished_set(folder / "raw", Path(out), recipe):
            return build_benchmark(folder / "raw", out, **asked)  # says so and returns at once
    say = progress_message if progress else (lambda message: None)
    say(_plan(scenes, recipe.count))
    default_input_pool(
        work, scenes=scenes, seed=seed, workers=workers, keep_scenes=keep_scenes, progress=progress
    )
    say(f"[4/4] build benchmark: {recipe.count:,} masks of {size} px")
    return build_benchmark(raw, out, **asked)


def _plan(scenes: int, count: int) -> str:
    """The stages and what they will cost, said before minutes of work."""
    pairs = scenes * (DEFAULT_FRAMES - 1)
    seconds = scenes * SECONDS_PER_SCENE + count * SECONDS_PER_MASK
    cost = f"{seconds / 60:.0f} min" if seconds >= 90 else f"{seconds:.0f} s"
    disk = (scenes * KEPT_BYTES_PER_SCENE + count * BYTES_PER_MASK) / 1e6
    scaled = (
        "" if scenes == DEFAULT_SCENES else f" (scaled from {DEFAULT_SCENES} to what {count:,} masks need)"
    )
    return (
        f"default input: {scenes} generated scenes{scaled}; 4 stages: render scenes, extract masks from "
        f"{pairs:,} frame pairs, split, build {count:,} masks; about {cost} on two idle cores and "
        f"{disk:,.0f} MB on disk"
    )


def _pool_finished(work: Path, scenes: int, seed: int) -> bool:
    """Whether ``work/raw`` holds the finished, split pool of these scenes and settings (its run.json asks
    for exactly them and lists as many jobs as its records): then no scene is rendered or read again."""
    raw = work / "raw"
    run = read_run(raw) if raw.is_dir() else None
    if run is None or (raw / SPLIT_NAME).is_file() is False:
        return False
    sources = [work / "scenes" / f"scene_{number:03d}" / "frames" for number in range(scenes)]
    asked = {
        "sources": [relative_path(source, raw) for source in sources],
        "config": json.loads(json.dumps(asdict(_extract_config()))),
        "shard": str(Shard()),
        "bad_sources": [],
        "version": __version__,
    }
    if any(run.get(key) != value for key, value in asked.items()):
        return False
    manifest, skipped = finished_ids(raw)
    split = read_json_object(raw / SPLIT_NAME)
    return (
        len(manifest) + len(skipped) == run["jobs"]
        and split.get("seed") == seed
        and split.get("test_fraction") == DEFAULT_TEST_FRACTION
    )


def _extract_config() -> ExtractConfig:
    return ExtractConfig(occlusion=OcclusionConfig(flow_scale=DEFAULT_FLOW_SCALE))


def default_input_pool(
    work: Path,
    *,
    scenes: int | None = None,
    seed: int = 0,
    workers: int | None = None,
    keep_scenes: bool = True,
    progress: bool = False,
) -> Path:
    """Render the default scenes (``scenes`` of them, default all) into ``work/scenes``, extract and split
    their pool in ``work/raw``; return the pool. Every stage resumes, and a finished pool is returned at
    once without reading its sources; unless ``keep_scenes``, the rendered frames are deleted once the pool
    is split (the pool and its records are all that later stages read)."""
    scenes = DEFAULT_SCENES if scenes is None else scenes
    with locked_folder(work):  # one run renders, extracts and deletes these scenes at a time
        return _make_pool(
            work, scenes, seed=seed, workers=workers, keep_scenes=keep_scenes, progress=progress
        )


def _make_pool(
    work: Path, scenes: int, *, seed: int, workers: int | None, keep_scenes: bool, progress: bool
) -> Path:
    """:func:`default_input_pool` once ``work`` is locked."""
    raw = work / "raw"
    say = progress_message if progress else (lambda message: None)
    if _pool_finished(work, scenes, seed):
        say(f"[1-3/4] raw pool {raw}: already complete")
        _drop_scenes(work, keep_scenes)
        return raw
    width, height = DEFAULT_SCENE_SIZE
    say(f"[1/4] render scenes: {scenes} of {DEFAULT_FRAMES} frames at {width}x{height}")
    folders = render_scenes(
        work / "scenes",
        scenes=scenes,
        frames=DEFAULT_FRAMES,
        size=DEFAULT_SCENE_SIZE,
        seed=seed,
        pace=DEFAULT_PACE,
        layers=DEFAULT_LAYERS,
        truth=False,
        workers=workers,
        progress=progress,
    )
    say(f"[2/4] extract masks: {scenes * (DEFAULT_FRAMES - 1):,} pairs")
    extract_pool(folders, raw, config=_extract_config(), workers=workers, progress=progress)
    sides = split_pool(raw, test_fraction=DEFAULT_TEST_FRACTION, seed=seed)
    test = sum(side == "test" for side in sides.values())
    say(f"[3/4] split: {test} test and {len(sides) - test} train scenes")
    _drop_scenes(work, keep_scenes)
    return raw


def _drop_scenes(work: Path, keep_scenes: bool) -> None:
    """Delete the rendered frames (most of the disk) unless asked to keep them."""
    if not keep_scenes and (work / "scenes").is_dir():
        shutil.rmtree(work / "scenes")

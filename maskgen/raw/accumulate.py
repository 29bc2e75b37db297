"""Denser raw masks from sparse footage: unions of the occlusion maps of several frame pairs of one video
(``pconv masks accumulate``).

Two consecutive frames of slow footage (a few walkers, a hand-held cup) occlude 0.5 % of the frame. The
benchmark builder can reach the high bins from such a mask only by dilating it into blobs. Accumulating
the occlusions of several pairs of the same video, at least ``gap`` frames apart, gives the dense masks
of faster, busier footage and keeps the strokes thin: every member is still an occlusion map, and the
union adds strokes instead of widening them.

Every raw mask of the input pool starts one union (its id is the start's id): the start's pair, then the
next pair at least ``gap`` frames later, and so on, until the union's hole ratio reaches a target drawn
uniformly from ``density`` (seeded by the seed and the start's id), so the output spreads evenly over
that range of densities. A start whose video ends first, or that needs more than ``max_members``
pairs, gives no mask (``skipped.jsonl``, reason "short", with the ratio it reached). A union never
crosses a scene cut that ``extract`` found (its ``skipped.jsonl``): two shots are two scenes. A start
already denser than its target is kept alone. The input must be a pool of single pairs (``extract``'s):
a union of unions would break the gap rule and hide its pairs.

Layout of the output, besides a pool's (see :mod:`pconv.maskgen.raw.pool`)::

    OUT/accumulate.json   the input pool (path and digest) and every setting: a re-run must match it
    OUT/skipped.jsonl     {"id", "source", "t", "reason": "short", "hole_ratio"} per start without a mask
                          (the ratio its union reached)
    OUT/split.json        the input's split, when it has one, carried over at the end

Each manifest row keeps the start's fields and adds ``params["accumulate"]``: the member ids and
frames and the drawn target, so a row says exactly which pairs its mask joins. Resume and byte-identical
output work as for ``extract``: a start is done once its line is in ``manifest.jsonl`` or
``skipped.jsonl``; both are rewritten sorted by id at the end.
"""

from __future__ import annotations

import collections
import contextlib
import json
import statistics
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pconv.core import __version__
from pconv.core.cache import ArrayCache
from pconv.core.errors import first_line
from pconv.core.files import (
    append_jsonl,
    atomic_write_bytes,
    atomic_write_text,
    read_json_object,
    read_jsonl,
    refuse_overlap,
    relative_path,
)
from pconv.core.locks import locked_folder
from pconv.core.masks import encode_mask_png
from pconv.core.progress import progress_bar
from pconv.core.workers import default_workers, worker_processes
from pconv.maskgen.raw.extract import SKIPPED_NAME, finished_ids, raw_mask_path, rewrite_lists
from pconv.maskgen.raw.pool import (
    MANIFEST_NAME,
    MASK_DIR,
    SPLIT_NAME,
    RawMaskRecord,
    RawPool,
    Split,
    pool_digest,
)

__all__ = [
    "ACCUMULATE_NAME",
    "AccumulateConfig",
    "AccumulateReport",
    "accumulate_pool",
    "accumulation_summary",
    "read_accumulation",
]

ACCUMULATE_NAME = "accumulate.json"
TASK_STARTS = 32  # starts per task: fine-grained progress and resume; neighbours share loaded members
CACHE_BYTES = 256 << 20  # member masks kept per process (the members of nearby starts overlap)


@dataclass(frozen=True)
class AccumulateConfig:
    """How unions are made: target hole ratios uniform in ``density``; members at least ``gap`` frames
    apart; at most ``max_members`` pairs per union; ``seed`` for the targets."""

    density: tuple[float, float] = (0.02, 0.3)
    gap: int = 12
    max_members: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        low, high = self.density
        if not 0 < low <= high <= 1:
            raise ValueError(f"density must be a range 0 < low <= high <= 1 of hole ratios, got {low} {high}")
        if self.gap < 1:
            raise ValueError(f"gap must be at least 1 frame, got {self.gap}")
        if self.max_members < 1:
            raise ValueError(f"max members must be at least 1, got {self.max_members}")
        if self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed}")

    def describe(self) -> dict[str, Any]:
        """Every setting, JSON-ready (``accumulate.json``, a mask set's ``build.json``)."""
        return {
            "density": list(self.density),
            "gap": self.gap,
            "max_members": self.max_members,
            "seed": self.seed,
        }

    def target(self, start_id: int) -> float:
        """The hole ratio the union starting at raw mask ``start_id`` grows to (rounded: it is recorded)."""
        low, high = self.density
        return round(low + (high - low) * float(np.random.default_rng([self.seed, start_id]).random()), 6)


@dataclass(frozen=True)
class AccumulateReport:
    """What a run did: ``starts`` (raw masks of the input), of those ``resumed`` done by an earlier run;
    this run's ``masks_written`` and ``skipped_short``."""

    starts: int
    masks_written: int
    skipped_short: int
    resumed: int


def read_accumulation(raw: Path) -> dict[str, Any] | None:
    """A pool's ``accumulate.json`` with its settings checked (None for a pool of single pairs); a damaged
    one is a one-line ValueError, since its settings reach build files and dataset cards."""
    path = Path(raw) / ACCUMULATE_NAME
    if not path.is_file():
        return None
    run = read_json_object(path, required={"config": dict})
    settings = run["config"]
    try:
        density = tuple(float(value) for value in settings["density"])
        config = AccumulateConfig(
            density=(density[0], density[1]),
            gap=int(settings["gap"]),
            max_members=int(settings["max_members"]),
            seed=int(settings["seed"]),
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise ValueError(f"{path}: not a record of `pconv masks accumulate` ({first_line(error)})") from None
    if config.describe() != settings:
        raise ValueError(f"{path}: not a record of `pconv masks accumulate` (unexpected settings)")
    return run


def _union(
    members: Sequence[RawMaskRecord],
    start: int,
    target: float,
    config: AccumulateConfig,
    cache: ArrayCache[np.ndarray],  # hole maps (uint8, 1 = hole) by record id
    cuts: Sequence[int] = (),
) -> tuple[np.ndarray, list[RawMaskRecord]]:
    """The union growing from ``members[start]`` (one source, sorted by frame) towards ``target``, with its
    members; it stops short when the source ends, at the first scene cut after the start (``cuts``: the
    first frames of the pairs ``extract`` found to be cuts), or when ``max_members`` is reached.
    ``(H, W)`` uint8, 1 = hole."""
    first = members[start]
    union = cache.get(first.id).copy()
    area = union.size
    holes = cv2.countNonZero(union)
    chosen = [first]
    shot_end = min((cut for cut in cuts if cut >= first.t), default=None)  # pairs from t_cut on: next shot
    for record in members[start + 1 :]:
        if holes >= target * area or len(chosen) == config.max_members:
            break
        if shot_end is not None and record.t >= shot_end:
            break
        if record.t < chosen[-1].t + config.gap:
            continue
        if (record.height, record.width) != (first.height, first.width):
            raise ValueError(
                f"{first.source}: raw masks {first.id} and {record.id} differ in size "
                f"({first.width}x{first.height} and {record.width}x{record.height}); cannot join them"
            )
        cv2.bitwise_or(union, cache.get(record.id), dst=union)
        holes = cv2.countNonZero(union)
        chosen.append(record)
    return union, chosen


_WORKER: dict[str, Any] = {}


def _by_source(pool: RawPool) -> dict[str, list[RawMaskRecord]]:
    """The pool's records per source, sorted by frame."""
    grouped: dict[str, list[RawMaskRecord]] = collections.defaultdict(list)
    for record in pool.records:
        grouped[record.source].append(record)
    return {source: sorted(members, key=lambda r: (r.t, r.id)) for source, members in grouped.items()}


def _scene_cuts(raw: Path) -> dict[str, list[int]]:
    """Per source, the first frames of the pairs ``extract`` skipped as scene cuts (none for pools without
    ``skipped.jsonl``)."""
    path = raw / SKIPPED_NAME
    cuts: dict[str, list[int]] = collections.defaultdict(list)
    for line in read_jsonl(path) if path.is_file() else []:
        if line.get("reason") == "cut" and isinstance(line.get("t"), int):
            cuts[str(line.get("source"))].append(line["t"])
    return dict(cuts)


def _init_worker(raw: Path, config: AccumulateConfig) -> None:
    """Read the pool once per process: records by source, scene cuts, the settings and a member cache."""
    pool = RawPool(raw)
    by_source = _by_source(pool)
    positions = {
        record.id: (source, n) for source, members in by_source.items() for n, record in enumerate(members)
    }
    by_id = {record.id: record for record in pool.records}
    cache = ArrayCache(lambda number: pool.load_hole(by_id[number]).view(np.uint8), CACHE_BYTES)
    _WORKER.update(
        by_source=by_source, positions=positions, config=config, cache=cache, cuts=_scene_cuts(raw)
    )


def _task(out: Path, starts: Sequence[int]) -> list[dict[str, Any]]:
    """Make the unions of the raw masks ``starts`` (ids, one source); write each PNG into ``out`` and
    return one result per start, in order."""
    config, cache = _WORKER["config"], _WORKER["cache"]
    results = []
    for start_id in starts:
        source, start = _WORKER["positions"][start_id]
        members = _WORKER["by_source"][source]
        target = config.target(start_id)
        union, chosen = _union(members, start, target, config, cache, _WORKER["cuts"].get(source, ()))
        ratio = cv2.countNonZero(union) / union.size
        result = {"id": start_id, "kind": "short", "hole_ratio": ratio}
        if ratio >= target:
            atomic_write_bytes(out / raw_mask_path(start_id), encode_mask_png(union.view(bool)))
            result["kind"] = "mask"
            result["members"] = [record.id for record in chosen]
            result["frames"] = [record.t for record in chosen]
            result["target"] = target
        results.append(result)
    return results


def _tasks(by_source: dict[str, list[RawMaskRecord]], done: set[int]) -> list[list[int]]:
    """Runs of up to :data:`TASK_STARTS` consecutive starts (ids) not yet done, source by source (sorted):
    neighbouring starts share most members, so one process loads them once."""
    tasks = []
    for source in sorted(by_source):
        todo = [record.id for record in by_source[source] if record.id not in done]
        tasks += [todo[i : i + TASK_STARTS] for i in range(0, len(todo), TASK_STARTS)]
    return tasks


def _results(
    out: Path, tasks: list[list[int]], executor: ProcessPoolExecutor | None
) -> Iterator[list[dict[str, Any]]]:
    """Each task's results in task order, from the worker processes or, without them, made here."""
    if executor is None:
        yield from (_task(out, starts) for starts in tasks)
        return
    futures = [executor.submit(_task, out, starts) for starts in tasks]
    for future in futures:
        yield future.result()


def _row(result: dict[str, Any], start: RawMaskRecord, raw: Path, out: Path) -> dict[str, Any]:
    """The output manifest line of a made union: the start's fields, rebased, plus the members."""
    accumulate = {key: result[key] for key in ("members", "frames", "target")}
    return {
        "id": start.id,
        "file": raw_mask_path(start.id),
        "source": relative_path(raw / start.source, out),
        "t": start.t,
        "step": start.step,
        "method": start.method,
        "hole_ratio": result["hole_ratio"],
        "height": start.height,
        "width": start.width,
        "params": {**start.params, "accumulate": accumulate},
        "version": __version__,
    }


def accumulate_pool(
    raw: Path,
    out: Path,
    config: AccumulateConfig = AccumulateConfig(),
    *,
    workers: int | None = None,
    progress: bool = False,
) -> AccumulateReport:
    """Write the unions of every raw mask of the pool ``raw`` into the pool folder ``out`` (see the
    module docstring). Resumes an unfinished run with the same input and settings; refuses a folder that
    holds another pool, ``out`` inside ``raw``, and an input that is itself accumulated."""
    raw, out = Path(raw), Path(out)
    pool = RawPool(raw)  # first: a missing or broken input fails before OUT is created
    refuse_overlap(out, {"RAW": raw})
    if read_accumulation(raw) is not None:
        raise ValueError(f"{raw}: already accumulated; accumulate the pool of single pairs it was made from")
    split = read_json_object(raw / SPLIT_NAME) if pool.split is not None else None
    run = {
        "config": config.describe(),
        "input": relative_path(raw, out),
        "input_digest": pool_digest(raw),
        "starts": len(pool.records),
        "version": __version__,
    }
    with locked_folder(out):
        _check_run(out, run)
        try:
            counts, done = _accumulate(pool, out, config, workers or default_workers(), progress)
        except BaseException:
            if not any(finished_ids(out)):  # nothing worth resuming: leave no pool-looking folder behind
                _clear(out)
            raise
        if pool_digest(raw) != run["input_digest"]:
            raise ValueError(f"{raw}: the pool changed during the run; accumulate it again into a new folder")
        manifest, skipped = finished_ids(out)
        if not manifest:
            _clear(out)
            raise ValueError(
                f"{raw}: no raw mask reached its target density {config.density[0]}-{config.density[1]} "
                f"with at most {config.max_members} pairs {config.gap} frames apart; lower --density"
            )
        rewrite_lists(out, manifest, skipped)
        if split is not None:
            _carry_split(split, raw, out, manifest)
    return AccumulateReport(
        starts=len(pool.records),
        masks_written=counts["mask"],
        skipped_short=counts["short"],
        resumed=len(done),
    )


def _accumulate(
    pool: RawPool, out: Path, config: AccumulateConfig, workers: int, progress: bool
) -> tuple[dict[str, int], set[int]]:
    """The work of :func:`accumulate_pool` once ``out`` is locked and checked: this run's counts, and the
    starts an earlier run had done."""
    (out / MASK_DIR).mkdir(exist_ok=True)
    for leftover in (out / MASK_DIR).glob(".*.pconv-tmp-*"):
        leftover.unlink()
    manifest, skipped = finished_ids(out)
    rewrite_lists(out, manifest, skipped)  # drops a line an interruption cut short before appending
    done = {record["id"] for record in manifest} | {record["id"] for record in skipped}
    by_id = {record.id: record for record in pool.records}
    counts = {"mask": 0, "short": 0}
    tasks = _tasks(_by_source(pool), done)
    bar = progress_bar(
        total=len(pool.records), desc="accumulate", enabled=progress, unit="mask", initial=len(done)
    )
    try:
        with (
            worker_processes(workers, initializer=_init_worker, initargs=(pool.root, config)) as executor,
            bar,
        ):
            if executor is None:
                _init_worker(pool.root, config)
            for results in _results(out, tasks, executor):
                for result in results:
                    _record(out, pool.root, result, by_id[result["id"]])
                    counts[result["kind"]] += 1
                bar.update(len(results))
    finally:
        _WORKER.clear()  # in-process runs: release the member cache
    return counts, done


def _clear(out: Path) -> None:
    """Remove what a run that made nothing left in ``out``; the lock then removes ``out`` itself if it
    created it."""
    for name in (ACCUMULATE_NAME, MANIFEST_NAME, SKIPPED_NAME):
        (out / name).unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # a mask folder with files in it stays
        (out / MASK_DIR).rmdir()


def _record(out: Path, raw: Path, result: dict[str, Any], start: RawMaskRecord) -> None:
    """Append one start's line: the mask's (its PNG is already in place) or the skipped one."""
    if result["kind"] == "mask":
        append_jsonl(out / MANIFEST_NAME, _row(result, start, raw, out))
        return
    line = {
        "id": start.id,
        "source": relative_path(raw / start.source, out),
        "t": start.t,
        "reason": "short",
        "hole_ratio": result["hole_ratio"],
    }
    append_jsonl(out / SKIPPED_NAME, line)


def _check_run(out: Path, run: dict[str, Any]) -> None:
    """Write ``accumulate.json`` into a fresh folder, or check that ``out`` holds this very run."""
    path = out / ACCUMULATE_NAME
    if path.is_file():
        held = read_json_object(path, required={"config": dict})
        if held != run:
            raise ValueError(
                f"{out}: holds a pool accumulated from other input or settings; use a new folder"
            )
        return
    if (out / MANIFEST_NAME).exists():
        raise ValueError(f"{out}: holds another raw mask pool; use a new folder")
    atomic_write_text(path, json.dumps(run, indent=1, sort_keys=True) + "\n")


def _carry_split(split: dict[str, Any], raw: Path, out: Path, manifest: list[dict[str, Any]]) -> None:
    """The input's ``split.json`` (as read at the start) with sources rebased to ``out`` and the new mask
    counts."""
    sources = {relative_path(raw / source, out): side for source, side in split["sources"].items()}
    masks = {
        side: sum(1 for record in manifest if sources.get(record["source"]) == side)
        for side in ("train", "test")
    }
    document = {**split, "sources": sources, "masks": masks}
    atomic_write_text(out / SPLIT_NAME, json.dumps(document, indent=1, sort_keys=True) + "\n")


def accumulation_summary(pool: RawPool, part: Split | None = None) -> dict[str, Any] | None:
    """How an accumulated pool was made, for a mask set's metadata: its settings and the fewest, median
    and most pairs per raw mask of ``part`` (all of them for None); None for a pool of single pairs."""
    run = read_accumulation(pool.root)
    if run is None:
        return None
    records = pool.records if part is None else pool.records_in(part)
    counts = []
    for record in records:
        made = record.params.get("accumulate")
        if not isinstance(made, dict) or not isinstance(made.get("members"), list) or not made["members"]:
            raise ValueError(f"{pool.root}: raw mask {record.id} does not list the pairs it joins")
        counts.append(len(made["members"]))
    pairs = {"min": min(counts), "median": statistics.median(counts), "max": max(counts)}
    return {**run["config"], "pairs_per_mask": pairs}
